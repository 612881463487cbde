// Small pure pieces: mount options, id maps, /etc/subuid, the CLI shorthand, the state store,
// and how a child's (op index, errno) becomes the user's error line.
import { thrown } from '../helpers/thrown.js';
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSignal } from '../../lib/lifecycle/kill.js';
import { expandShorthand, joinDashValues } from '../../lib/cli/main.js';
import { LaunchError, formatError } from '../../lib/errors.js';
import { type HostFacts, inUserNamespace, parseSubIds } from '../../lib/host.js';
import { formatMap, planIdMaps } from '../../lib/plan/idmap.js';
import { MS, flagNames, parseMountOptions } from '../../lib/plan/mountopts.js';
import type { Op } from '../../lib/plan/ops.js';
import { childFailure } from '../../lib/runtime/launcher.js';
import { StateStore, defaultRoot, validateId } from '../../lib/state/store.js';
import type { Spec } from '../../lib/spec/schema.js';

const tmp = mkdtempSync(join(tmpdir(), 'launch-misc-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('parseSignal (kill)', () => {
  it('names with or without SIG, any case, and numbers 0-64; anything else is a usage error', () => {
    expect(['TERM', 'SIGTERM', 'sigkill', 'hup', '9', '0', '64'].map(parseSignal)).toEqual([15, 15, 9, 1, 9, 0, 64]);
    for (const bad of ['NOSUCH', '65', '-1', 'SIG', '']) expect(thrown(() => parseSignal(bad), 'usage').message).toMatch(/unknown signal/);
  });
});

describe('joinDashValues', () => {
  it('keeps `--resources -` (stdin) a flag value for yargs', () => {
    expect(joinDashValues(['update', '--resources', '-', 'id'])).toEqual(['update', '--resources=-', 'id']);
    expect(joinDashValues(['update', '-r', '-', 'id'])).toEqual(['update', '--resources=-', 'id']);
    expect(joinDashValues(['run', '-', 'x'])).toEqual(['run', '-', 'x']);
  });
});

describe('parseMountOptions', () => {
  it('flags, propagation, data, ignored and unsupported options', () => {
    expect(parseMountOptions(['rbind', 'ro', 'nosuid', 'rprivate', 'mode=755', 'tmpcopyup', 'idmap', 'size=1k'])).toEqual({
      flags: MS.BIND | MS.REC | MS.RDONLY | MS.NOSUID,
      propagation: MS.PRIVATE | MS.REC,
      data: ['mode=755', 'size=1k'],
      unsupported: ['idmap'],
      recursive: { set: 0, clear: 0 },
    });
    expect(parseMountOptions(['ro', 'nodev', 'rw', 'dev', 'exec'])).toEqual({ flags: 0, propagation: 0, data: [], unsupported: [], recursive: { set: 0, clear: 0 } });
    expect(parseMountOptions(['noexec', 'relatime', 'slave', 'defaults', 'ridmap']).flags).toBe(MS.NOEXEC | MS.RELATIME);
    expect(parseMountOptions(['slave']).propagation).toBe(1 << 19);
    expect(parseMountOptions(['ridmap']).unsupported).toEqual(['ridmap']);
    expect(parseMountOptions()).toEqual({ flags: 0, propagation: 0, data: [], unsupported: [], recursive: { set: 0, clear: 0 } });
    expect(MS.BIND).toBe(4096);
    expect(MS.REC).toBe(16384);
  });

  it('flagNames for messages', () => {
    expect(flagNames(MS.RDONLY | MS.NOSUID | MS.NODEV)).toBe('ro,nosuid,nodev');
    expect(flagNames(0)).toBe('');
    expect(flagNames(MS.NOEXEC | MS.BIND)).toBe('noexec,bind');
    expect(flagNames(MS.NOEXEC | MS.REC | MS.BIND)).toContain('rbind');
  });
});

describe('planIdMaps', () => {
  const host = (over: Partial<HostFacts>): HostFacts => ({
    uid: 1000, gid: 100, userName: 'bob', subuid: [], subgid: [], newuidmap: undefined, newgidmap: undefined,
    capLastCap: 40, cgroupVersion: 2, rootless: true, ...over,
  });
  const spec = (linux: Spec['linux']): Spec => ({ ociVersion: '1.2.0', linux } as Spec);

  it('no mappings: the caller becomes root, written directly with setgroups deny', () => {
    expect(planIdMaps(spec({}), host({}))).toEqual({
      uid: [{ containerID: 0, hostID: 1000, size: 1 }], gid: [{ containerID: 0, hostID: 100, size: 1 }],
      uidMethod: 'write', gidMethod: 'write', setgroupsDeny: true,
    });
  });

  it('root writes any mapping itself, setgroups allowed', () => {
    const both = { uidMappings: [{ containerID: 0, hostID: 500000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 500000, size: 65536 }] };
    const m = planIdMaps(spec(both), host({ uid: 0, gid: 0 }));
    expect([m.uidMethod, m.gidMethod, m.setgroupsDeny]).toEqual(['write', 'write', false]);
    expect(m.gid).toEqual([{ containerID: 0, hostID: 500000, size: 65536 }]);
    // Root must say which ids it wants: there is no caller's id to default to.
    const e = thrown(() => planIdMaps(spec({ uidMappings: both.uidMappings }), host({ uid: 0, gid: 0 })));
    expect([e.configPath, e.message]).toEqual(['linux.gidMappings', 'a user namespace needs uid and gid mappings when launch runs as root']);
  });

  it('ranges inside /etc/subuid use the helper; the edges count', () => {
    const h = host({ subuid: [{ start: 100000, count: 10 }], subgid: [{ start: 100000, count: 10 }], newuidmap: '/usr/bin/newuidmap' });
    const m = planIdMaps(spec({ uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 10 }] }), h);
    expect([m.uidMethod, m.gidMethod, m.setgroupsDeny]).toEqual(['helper', 'write', true]);
    const e = thrown(() => planIdMaps(spec({ uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100001, size: 10 }] }), h));
    expect([e.configPath, e.file, e.message]).toEqual(['linux.uidMappings[1]', '/etc/subuid', 'host uids 100001-100010 are not delegated to bob in']);
    const g = thrown(() => planIdMaps(spec({ gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }] }), h));
    expect([g.configPath, g.file, g.message]).toEqual(['linux.gidMappings[0]', '/etc/subgid', 'host gids 1000-1000 are not delegated to bob in']);
    const n = thrown(() => planIdMaps(spec({ gidMappings: [{ containerID: 0, hostID: 100000, size: 2 }] }), h));
    expect([n.configPath, n.message]).toEqual(['linux.gidMappings', 'mapping more than your own gid needs newgidmap (apt-get install uidmap), which is not installed']);
    const anon = thrown(() => planIdMaps(spec({ uidMappings: [{ containerID: 0, hostID: 7, size: 1 }] }), host({ userName: undefined })));
    expect(anon.message).toBe('host uids 7-7 are not delegated to uid 1000 in');
  });

  it('formatMap writes one line per mapping', () => {
    expect(formatMap([{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }])).toBe(
      '0 1000 1\n1 100000 65536\n',
    );
    expect(formatMap([])).toBe('');
  });
});

describe('parseSubIds', () => {
  const text = 'alice:100000:65536\n1000:300000:10\nbob:200000:65536\n  alice:500000:5  \nalice:x:1\nalice:1:0\n#c\n\nalice:7\n';
  it('matches by name or uid, skips junk', () => {
    expect(parseSubIds(text, 'alice', 1000)).toEqual([
      { start: 100000, count: 65536 }, { start: 300000, count: 10 }, { start: 500000, count: 5 },
    ]);
    expect(parseSubIds(text, 'bob', 1001)).toEqual([{ start: 200000, count: 65536 }]);
    expect(parseSubIds(text, undefined, 1000)).toEqual([{ start: 300000, count: 10 }]);
    expect(parseSubIds('', 'alice', 1000)).toEqual([]);
  });
});

describe('expandShorthand', () => {
  const dirs = new Set(['bundle', './b', '/x']);
  const isDir = (p: string) => dirs.has(p);
  const ex = (argv: string[]) => expandShorthand(argv, isDir, () => 'ID');
  it('a directory becomes run --bundle DIR <id>', () => {
    expect(ex(['bundle'])).toEqual(['run', '--bundle', 'bundle', 'ID']);
    expect(ex(['--debug', './b', 'extra'])).toEqual(['--debug', 'run', '--bundle', './b', 'ID', 'extra']);
    expect(ex(['--root=/x', 'bundle'])).toEqual(['--root=/x', 'run', '--bundle', 'bundle', 'ID']);
  });
  it('verbs, non-directories, flag values and empty argv are left alone', () => {
    expect(ex(['run', 'bundle'])).toEqual(['run', 'bundle']);
    expect(ex(['spec'])).toEqual(['spec']);
    expect(ex(['nothere'])).toEqual(['nothere']);
    expect(ex(['--root', '/x'])).toEqual(['--root', '/x']);
    expect(ex([])).toEqual([]);
    expect(ex(['--help'])).toEqual(['--help']);
  });
  // The value of --root is skipped, and the search goes on to the bundle.
  it('a bundle after `--root VALUE` is expanded', () => {
    expect(ex(['--root', '/x', 'bundle'])).toEqual(['--root', '/x', 'run', '--bundle', 'bundle', 'ID']);
  });
});

describe('state store', () => {
  it('defaultRoot and validateId', () => {
    expect(defaultRoot({}, 0)).toBe('/run/launch');
    // uid 0 inside rootless podman's user namespace is not root: runc's rule.
    expect(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 0, true)).toBe('/run/user/1000/launch');
    expect(inUserNamespace('         0          0 4294967295\n')).toBe(false);
    expect(inUserNamespace('         0       1000          1\n')).toBe(true);
    expect(inUserNamespace('0 1000 1\n1 100000 65536\n')).toBe(true);
    expect(defaultRoot({ XDG_RUNTIME_DIR: '/run/user/1000' }, 1000)).toBe('/run/user/1000/launch');
    expect(defaultRoot({}, 1000)).toBe('/tmp/launch-1000');
    for (const ok of ['a', 'web-1', 'A_b+c.d', '-x', 'x'.repeat(1024)]) expect(() => validateId(ok)).not.toThrow();
    for (const bad of ['', '.x', '..', '../x', 'a/b', 'a b', 'x'.repeat(1025)]) {
      const e = thrown(() => validateId(bad));
      expect([e.kind, e.message]).toEqual(['usage', `invalid container id \`${bad}\` (letters, digits and _+-. only, not starting with a dot)`]);
    }
  });

  it('claim, write, read, list, remove', () => {
    const root = join(tmp, 'state');
    const store = new StateStore(root);
    expect(store.list()).toEqual([]);
    store.claim('web');
    expect((statSync(root).mode & 0o777).toString(8)).toBe('700');
    expect((statSync(join(root, 'web')).mode & 0o777).toString(8)).toBe('700');
    const dup = thrown(() => store.claim('web'));
    expect([dup.kind, dup.exitCode, formatError(dup)]).toEqual(['state', 125, `launch: container \`web\` already exists \`${join(root, 'web')}\``]);
    const state = { ociVersion: '1.2.0', id: 'web', status: 'created' as const, pid: 42, bundle: '/b' };
    store.write(state);
    // Created is what it says while the exec FIFO is there; without it, started (by the front).
    writeFileSync(join(root, 'web', 'exec.fifo'), '');
    expect(store.read('web')).toEqual(state);
    rmSync(join(root, 'web', 'exec.fifo'));
    expect(store.read('web')).toEqual({ ...state, status: 'running' });
    expect(JSON.parse(readFileSync(join(root, 'web', 'state.json'), 'utf8'))).toEqual(state);
    expect((statSync(join(root, 'web', 'state.json')).mode & 0o777).toString(8)).toBe('600');
    mkdirSync(join(root, '.hidden'));
    store.claim('db');
    expect(store.list().sort()).toEqual(['db', 'web']);
    store.remove('web');
    expect(existsSync(join(root, 'web'))).toBe(false);
    const gone = thrown(() => store.read('web'));
    expect([gone.kind, gone.message, gone.file]).toEqual(['state', 'container `web` does not exist', join(root, 'web', 'state.json')]);
    expect(() => store.remove('../escape')).toThrow(LaunchError);
  });

  it('errors name the file and errno', () => {
    const root = join(tmp, 'state2');
    const store = new StateStore(root);
    const w = thrown(() => store.write({ ociVersion: '1.2.0', id: 'unclaimed', status: 'creating', bundle: '/b' }));
    expect([w.kind, w.message, w.file, w.errno]).toEqual(['state', 'cannot write the state', join(root, 'unclaimed', 'state.json'), 2]);
    store.claim('bad');
    writeFileSync(join(root, 'bad', 'state.json'), '{not json');
    const r = thrown(() => store.read('bad'));
    expect([r.message, r.errno]).toEqual(['cannot read the state', undefined]);
    const file = join(tmp, 'afile');
    writeFileSync(file, '');
    const f = thrown(() => new StateStore(file).claim('x'));
    expect([f.message, f.file, f.errno]).toEqual(['cannot create the state root', file, 17]);
    const link = join(tmp, 'link');
    symlinkSync(root, link);
    const l = thrown(() => new StateStore(link).claim('x'));
    expect([l.message, l.file]).toEqual(['state root is not a directory', link]);
  });
});

describe('childFailure', () => {
  const exec = (arg0: string, candidates: string[]): Op => ({
    op: 'EXEC', args: [candidates, 0, [arg0], 0, []], origin: { configPath: 'process.args[0]', what: 'exec', file: arg0 },
  });
  const mount: Op = { op: 'MOUNT', args: ['/d', '/srv', null, 4096, null, 0], origin: { configPath: 'mounts[3]', what: 'bind mount `/d` on', file: '/srv' } };
  const ops = [mount, exec('app', ['/usr/bin/app', '/bin/app']), exec('/opt/app', ['/opt/app'])];

  it('exec not found: 127, with or without a PATH search', () => {
    const e = childFailure(ops, 1, 2, 1);
    expect([e.kind, e.exitCode, formatError(e)]).toEqual(['setup', 127, 'launch: process.args[0]: executable file not found in $PATH: `app`: No such file or directory (ENOENT)']);
    expect(formatError(childFailure(ops, 2, 2, 0))).toBe('launch: process.args[0]: executable file not found: `/opt/app`: No such file or directory (ENOENT)');
  });

  it('exec found but not runnable names the candidate: 126, else 125', () => {
    const e = childFailure(ops, 1, 13, 1);
    expect([e.exitCode, formatError(e)]).toEqual([126, 'launch: process.args[0]: cannot execute `/bin/app`: Permission denied (EACCES)']);
    expect([childFailure(ops, 1, 8, 0).exitCode, childFailure(ops, 1, 21, 0).exitCode]).toEqual([126, 126]);
    const big = childFailure(ops, 1, 7, 0);
    expect([big.exitCode, big.file]).toEqual([125, '/usr/bin/app']);
    expect(childFailure(ops, 1, 13, 9).file).toBe('app'); // aux past the list: arg0
  });

  it('other ops use their origin; an unknown index says the step', () => {
    const e = childFailure(ops, 0, 1, 0);
    expect([e.exitCode, formatError(e)]).toEqual([125, 'launch: mounts[3]: bind mount `/d` on `/srv`: Operation not permitted (EPERM)']);
    expect(formatError(childFailure(ops, 9, 22, 0))).toBe("launch: the container's init failed at step 9: Invalid argument (EINVAL)");
  });
});

describe('recursive mount options', () => {
  it('maps runc\'s r-prefixed options to mount_setattr attributes', async () => {
    const { parseMountOptions, MOUNT_ATTR } = await import('../../lib/plan/mountopts.js');
    expect(parseMountOptions(['rbind', 'rro', 'rnosuid']).recursive).toEqual({ set: MOUNT_ATTR.RDONLY | MOUNT_ATTR.NOSUID, clear: 0 });
    expect(parseMountOptions(['rro', 'rrw']).recursive).toEqual({ set: 0, clear: MOUNT_ATTR.RDONLY });
    expect(parseMountOptions(['rnoatime']).recursive).toEqual({ set: MOUNT_ATTR.NOATIME, clear: MOUNT_ATTR._ATIME });
    expect(parseMountOptions(['rro']).data).toEqual([]);
  });
});
