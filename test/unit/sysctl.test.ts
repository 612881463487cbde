// linux.sysctl: only keys in a namespace of the container's own (lib/plan/sysctl.ts), as runc.
// Seen failing before the rule existed: buildPlan took every key here (vm.*, kernel.core_pattern,
// net.* without a network namespace) and planned its write, so each "refuses" case threw nothing.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { HostFacts } from '../../lib/host.js';
import { buildPlan } from '../../lib/plan/build.js';
import { type NsOf, checkSysctl, isOwnNamespace, sysctlFileName } from '../../lib/plan/sysctl.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Spec } from '../../lib/spec/schema.js';
import { thrown } from '../helpers/thrown.js';

const bundle = mkdtempSync(join(tmpdir(), 'launch-sysctl-'));
mkdirSync(join(bundle, 'rootfs'));
afterAll(() => rmSync(bundle, { recursive: true, force: true }));

const ROOT: HostFacts = {
  uid: 0, gid: 0, userName: 'root', subuid: [], subgid: [], newuidmap: undefined, newgidmap: undefined,
  capLastCap: 40, cgroupVersion: 2, rootless: false,
};

type T = 'ipc' | 'uts' | 'network';
/** nsOf with the given types new, and `joined` joined by path. */
const nsOf = (fresh: T[], joined: Partial<Record<T, string>> = {}): NsOf => (type) =>
  joined[type] ? { path: joined[type] } : fresh.includes(type) ? {} : undefined;
const never = () => false;
const check = (key: string, ns: NsOf, own = never) => () => checkSysctl(key, ns, own);
const ALL: T[] = ['ipc', 'uts', 'network'];

describe('checkSysctl', () => {
  it('refuses what no namespace holds, whatever namespaces the container has', () => {
    for (const key of ['vm.swappiness', 'kernel.core_pattern', 'kernel.modprobe', 'fs.file-max', 'kernel/core_pattern', 'user.max_user_namespaces', 'kernel.shm_whatever', 'debug.exception-trace']) {
      const err = thrown(check(key, nsOf(ALL)), 'spec');
      expect(err.configPath).toBe(`linux.sysctl["${key}"]`);
      expect(err.message).toBe("is not namespaced: it is the host's, and the container may not set it");
    }
  });

  it('ipc keys and fs.mqueue.* need an ipc namespace of the container\'s own', () => {
    for (const key of ['kernel.shmmax', 'kernel.msgmax', 'kernel.sem', 'kernel.shm_rmid_forced', 'fs.mqueue.queues_max', 'kernel/shmmax']) {
      expect(check(key, nsOf(['ipc']))).not.toThrow();
      const err = thrown(check(key, nsOf(['uts', 'network'])), 'spec');
      expect(err.configPath).toBe(`linux.sysctl["${key}"]`);
      expect(err.message).toBe("needs an ipc namespace of the container's own: in the host's, it would change the host's value");
    }
  });

  it('net.* needs a network namespace: a new one, or a joined one that is not launch\'s own', () => {
    expect(check('net.ipv4.ip_forward', nsOf(['network']))).not.toThrow();
    expect(check('net/ipv4/ip_forward', nsOf(['network']))).not.toThrow();
    expect(thrown(check('net.ipv4.ip_forward', nsOf(['ipc', 'uts'])), 'spec').message).toMatch(/^needs a network namespace/);
    expect(check('net.ipv4.ip_forward', nsOf([], { network: '/run/netns/other' }))).not.toThrow();
    const own = (type: T, path: string) => type === 'network' && path === '/proc/self/ns/net';
    expect(thrown(check('net.ipv4.ip_forward', nsOf([], { network: '/proc/self/ns/net' }), own), 'spec').message).toMatch(/^needs a network namespace/);
    // Checked, unlike runc, for the ipc namespace too: joining launch's own is the host's.
    expect(thrown(check('kernel.shmmax', nsOf([], { ipc: '/proc/1/ns/ipc' }), () => true), 'spec').message).toMatch(/^needs an ipc namespace/);
    const unreadable = () => {
      throw Object.assign(new Error('no such file'), { code: 'ENOENT' });
    };
    // Left to the join, which comes first and fails on the same path.
    expect(check('net.core.somaxconn', nsOf([], { network: '/nope' }), unreadable)).not.toThrow();
  });

  it('kernel.domainname needs a uts namespace; kernel.hostname is the hostname field\'s', () => {
    expect(check('kernel.domainname', nsOf(['uts']))).not.toThrow();
    expect(thrown(check('kernel.domainname', nsOf(['ipc', 'network'])), 'spec').message).toMatch(/^needs a uts namespace/);
    expect(thrown(check('kernel.hostname', nsOf(ALL)), 'spec').message).toBe('conflicts with the `hostname` field: set that instead');
  });

  it('judges the file the plan writes: dots and slashes are both separators', () => {
    expect(sysctlFileName('kernel/shmmax')).toBe('kernel.shmmax');
    expect(sysctlFileName('kernel//shmmax')).toBe('kernel.shmmax');
    expect(sysctlFileName('net.ipv4/ip_forward')).toBe('net.ipv4.ip_forward');
  });

  it('isOwnNamespace compares the namespace files', () => {
    expect(isOwnNamespace('network', '/proc/self/ns/net')).toBe(true);
    expect(isOwnNamespace('ipc', `/proc/${process.pid}/ns/ipc`)).toBe(true);
    expect(isOwnNamespace('uts', '/proc/self/ns/net')).toBe(false);
  });
});

describe('buildPlan with linux.sysctl', () => {
  const spec = (sysctl: Record<string, string>, drop: string[] = []): Spec => {
    const s = defaultSpec({ rootless: false });
    delete s.linux!.seccomp;
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => !drop.includes(n.type));
    s.linux!.sysctl = sysctl;
    return s;
  };
  const plan = (s: Spec) => buildPlan(s, { bundle, host: ROOT });

  it('refuses a host key with one line naming it, before anything is planned', () => {
    const err = thrown(() => plan(spec({ 'kernel.core_pattern': '|/tmp/x' })), 'spec');
    expect(err.configPath).toBe('linux.sysctl["kernel.core_pattern"]');
    expect(thrown(() => plan(spec({ 'net.ipv4.ip_forward': '1' }, ['network'])), 'spec').configPath).toBe('linux.sysctl["net.ipv4.ip_forward"]');
    expect(thrown(() => plan(spec({ 'kernel.shmmax': '1' }, ['ipc'])), 'spec').configPath).toBe('linux.sysctl["kernel.shmmax"]');
  });

  it('plans the namespaced ones', () => {
    const p = plan(spec({ 'kernel.shmmax': '4096', 'net.ipv4.ip_forward': '1', 'fs.mqueue.msg_max': '20' }));
    expect(p.ops.filter((o) => o.op === 'WRITE_FILE').map((o) => o.args[0])).toEqual([
      '/proc/sys/kernel/shmmax', '/proc/sys/net/ipv4/ip_forward', '/proc/sys/fs/mqueue/msg_max',
    ]);
  });
});
