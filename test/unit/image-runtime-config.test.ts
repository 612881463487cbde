// Image config -> config.json (lib/image/runtime-config.ts).
// Checked that they can fail: with ARGS not replacing Cmd, and with an unknown user name taken
// for uid 0, a test fails each time.
import { describe, expect, it } from 'vitest';
import { STOP_SIGNAL, resolveUser, runtimeConfig } from '../../lib/image/runtime-config.js';
import type { ImageConfig } from '../../lib/image/types.js';
import { networkRequest } from '../../lib/network/options.js';
import { parseSpec } from '../../lib/spec/load.js';
import { thrown } from '../helpers/thrown.js';

const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nweb:x:1234:1234::/srv:/bin/sh\nbroken line\nnobody:x:65534:65534::/:/bin/false\n';
const GROUP = 'root:x:0:\nweb:x:1234:\nwheel:x:10:web,other\nmail:x:8:web\nbad:x:gid:\n';
const image = (config: ImageConfig['config']): ImageConfig => ({ rootfs: { type: 'layers', diff_ids: [] }, config });
const make = (config: ImageConfig['config'], more: { args?: string[]; rootless?: boolean } = {}) =>
  runtimeConfig(image(config), { rootless: more.rootless ?? false, uid: 1000, gid: 1000, args: more.args, passwd: PASSWD, group: GROUP });

describe('runtimeConfig', () => {
  it('Entrypoint + Cmd, ARGS replacing Cmd; Env over the defaults; WorkingDir; a writable root', () => {
    const spec = make({ Entrypoint: ['/bin/app', '--flag'], Cmd: ['serve'], Env: ['PATH=/app/bin:/bin', 'MODE=prod'], WorkingDir: '/srv' });
    expect(spec.process!.args).toEqual(['/bin/app', '--flag', 'serve']);
    expect(spec.process!.env).toEqual(['PATH=/app/bin:/bin', 'TERM=xterm', 'MODE=prod']);
    expect(spec.process!.cwd).toBe('/srv');
    expect(spec.root).toEqual({ path: 'rootfs', readonly: false });
    expect(make({ Entrypoint: ['/bin/app'], Cmd: ['serve'] }, { args: ['check', '-v'] }).process!.args).toEqual(['/bin/app', 'check', '-v']);
    expect(make({ Cmd: ['sh'] }, { args: ['ls'] }).process!.args).toEqual(['ls']);
    // What Docker writes for absent values.
    expect(make({ Entrypoint: null, Cmd: ['sh'] }).process!.args).toEqual(['sh']);
  });

  it('is a valid config on top of launch spec, rootless too (its user namespace and ids)', () => {
    for (const rootless of [false, true]) {
      const spec = make({ Cmd: ['sh'], User: 'web' }, { rootless });
      expect(() => parseSpec(JSON.parse(JSON.stringify(spec)), '/b/config.json')).not.toThrow();
      expect(spec.linux!.seccomp).toBeDefined();
      expect(Boolean(spec.linux!.uidMappings)).toBe(rootless);
    }
  });

  it('labels and StopSignal become annotations', () => {
    expect(make({ Cmd: ['sh'], Labels: { 'org.example': 'x' }, StopSignal: 'SIGQUIT' }).annotations).toEqual({ 'org.example': 'x', [STOP_SIGNAL]: 'SIGQUIT' });
    expect(make({ Cmd: ['sh'] }).annotations).toBeUndefined();
  });

  it('labels that launch or systemd would read as orders are not annotations: an image does not choose its network or unit', () => {
    // `run.launch.network: host` as a label put `run --image` in the host's network namespace.
    const labels = {
      'run.launch.network': 'host',
      'run.launch.publish': '22:22',
      'run.launch.rootfs.overlay': '../..',
      'org.systemd.property.DeviceAllow': "'/dev/sda rwm'",
      'org.example': 'x',
    };
    const spec = make({ Cmd: ['sh'], Labels: labels });
    expect(spec.annotations).toEqual({ 'org.example': 'x' });
    const net = networkRequest(spec, {});
    expect([net.mode, net.publish]).toEqual([undefined, []]);
  });

  it('refuses an image with nothing to run, naming the field', () => {
    expect(thrown(() => make({ Entrypoint: null, Cmd: null }), 'spec')).toMatchObject({ configPath: 'config.Cmd' });
    expect(thrown(() => make(undefined), 'spec')).toMatchObject({ configPath: 'config.Cmd' });
  });
});

describe('resolveUser (as docker reads config.User)', () => {
  const r = (u: string) => resolveUser(u, PASSWD, GROUP);
  it('names and numbers, with the primary group from passwd and supplementary ones from group', () => {
    expect(r('')).toEqual({ uid: 0, gid: 0, additionalGids: [] });
    expect(r('web')).toEqual({ uid: 1234, gid: 1234, additionalGids: [10, 8] });
    expect(r('1234')).toEqual({ uid: 1234, gid: 1234, additionalGids: [10, 8] });
    expect(r('web:wheel')).toEqual({ uid: 1234, gid: 10, additionalGids: [] });
    expect(r('web:99')).toEqual({ uid: 1234, gid: 99, additionalGids: [] });
    // A number needs no entry (gid 0 then), as docker.
    expect(r('4242')).toEqual({ uid: 4242, gid: 0, additionalGids: [] });
    expect(r('4242:4343')).toEqual({ uid: 4242, gid: 4343, additionalGids: [] });
  });

  it('a name missing from the image, or a malformed User, is one spec error on config.User', () => {
    for (const u of ['ghost', 'web:ghosts', 'a:b:c', ':5']) expect(thrown(() => r(u), 'spec')).toMatchObject({ configPath: 'config.User' });
  });
});
