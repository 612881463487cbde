// Golden plans: buildPlan() against fake host facts, and the encoder's wire buffer.
import { thrown } from '../helpers/thrown.js';
import { afterAll, describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LaunchError } from '../../lib/errors.js';
import type { HostFacts } from '../../lib/host.js';
import { CLONE, buildExecPlan, buildPlan, execCandidates, type Plan } from '../../lib/plan/build.js';
import { encodePlan } from '../../lib/plan/encode.js';
import { MOUNT_ATTR, MS, parseMountOptions } from '../../lib/plan/mountopts.js';
import { CONSOLE_FLAGS, OPF, STAGE } from '../../lib/plan/ops.js';
import { makedev } from '../../lib/plan/rootfs.js';
import { native } from '../../lib/runtime/native.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Spec } from '../../lib/spec/schema.js';

const specErr = (fn: () => unknown) => thrown(fn, 'spec');

const bundle = mkdtempSync(join(tmpdir(), 'launch-plan-'));
mkdirSync(join(bundle, 'rootfs'));
afterAll(() => rmSync(bundle, { recursive: true, force: true }));

const ROOT: HostFacts = {
  uid: 0, gid: 0, userName: 'root', subuid: [], subgid: [], newuidmap: undefined, newgidmap: undefined,
  capLastCap: 40, cgroupVersion: 2, rootless: false,
};
const USER: HostFacts = { ...ROOT, uid: 1000, gid: 1000, userName: 'alice', rootless: true };
const USER_SUB: HostFacts = {
  ...USER, subuid: [{ start: 100000, count: 65536 }], subgid: [{ start: 100000, count: 65536 }],
  newuidmap: '/usr/bin/newuidmap', newgidmap: '/usr/bin/newgidmap',
};

// The default spec carries Docker's seccomp profile, whose compilation needs the addon's
// libseccomp (PlanOptions.seccomp); these golden plans are about everything else.
const noSeccomp = (spec: Spec): Spec => {
  delete spec.linux!.seccomp;
  return spec;
};
const rootSpec = (): Spec => noSeccomp(defaultSpec({ rootless: false }));
const rootlessSpec = (): Spec => noSeccomp(defaultSpec({ rootless: true, uid: 1000, gid: 1000 }));
const plan = (spec: Spec, host: HostFacts = ROOT): Plan => buildPlan(spec, { bundle, host });
const names = (p: Plan) => p.ops.map((o) => o.op);
const rep = (n: number, s: string) => Array<string>(n).fill(s);
const find = (p: Plan, pred: (o: Plan['ops'][number]) => boolean) => p.ops.filter(pred);


// The default spec's capabilities (Docker's 14), by number (<linux/capability.h>): CHOWN,
// DAC_OVERRIDE, FOWNER, FSETID, KILL, SETGID, SETUID, SETPCAP, NET_BIND_SERVICE, NET_RAW,
// SYS_CHROOT, MKNOD, AUDIT_WRITE, SETFCAP.
const CAPS14 = [0n, 1n, 3n, 4n, 5n, 6n, 7n, 8n, 10n, 13n, 18n, 27n, 29n, 31n].reduce((m, b) => m | (1n << b), 0n);
const TAIL = ['REMOUNT_ROOT_RO', 'RLIMIT', 'CAPBSET', 'USER', 'CAPS', 'NO_NEW_PRIVS', 'UMASK', 'CHDIR', 'EXEC'];

describe('buildPlan as root', () => {
  it('default spec: op sequence, clone flags, no idmap', () => {
    const p = plan(rootSpec());
    expect(names(p)).toEqual([
      // proc, devpts, mqueue and sysfs: fsmount'ed (MOUNT_FS); every masked and read-only path
      // is under proc or sysfs, so each is opened beneath that mount's fd (_AT).
      'SYNC', 'LOOPBACK', 'MOUNT_ROOT_PROPAGATION', 'ROOTFS', 'UMASK', 'MOUNT_FS', 'MOUNT', 'MOUNT_FS', 'MOUNT', 'MOUNT_FS', 'MOUNT_FS', 'MOUNT',
      ...rep(6, 'MKNOD'), ...rep(5, 'SYMLINK'),
      'PIVOT', 'SETHOSTNAME', 'SETSID', 'CONSOLE', ...rep(5, 'READONLY_AT'), ...rep(10, 'MASK_AT'), ...TAIL,
    ]);
    expect(p.cloneFlags).toBe(CLONE.NEWPID | CLONE.NEWNET | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS);
    expect(p.cloneFlags).toBe(0x6c020000);
    expect(p.idmap).toBeUndefined();
    expect(p.pidnsPath).toBeUndefined();
    expect(p.ops[0]!.args).toEqual([1]);
    expect(p.ops[2]!.args).toEqual([MS.SLAVE | MS.REC]);
    expect(p.ops[3]!.args).toEqual([join(bundle, 'rootfs')]);
    expect(find(p, (o) => o.op === 'SETHOSTNAME')[0]!.args).toEqual(['runc']);
    expect(find(p, (o) => o.op === 'SYMLINK').map((o) => o.args)).toEqual([
      ['/proc/self/fd', '/dev/fd'], ['/proc/self/fd/0', '/dev/stdin'], ['/proc/self/fd/1', '/dev/stdout'],
      ['/proc/self/fd/2', '/dev/stderr'], ['pts/ptmx', '/dev/ptmx'],
    ]);
    // The terminal is set up in the container's /dev before anything is made read-only.
    expect(find(p, (o) => o.op === 'CONSOLE')[0]!.args).toEqual([CONSOLE_FLAGS.MOUNT, 0, 0, 0]);
    expect(find(p, (o) => o.op === 'USER')[0]!.args).toEqual([0, 0, 1, []]);
    expect(find(p, (o) => o.op === 'CHDIR')[0]!.args).toEqual(['/']);
    expect(find(p, (o) => o.op === 'MASK_AT')[0]).toEqual({
      op: 'MASK_AT', args: [1, 'acpi'], flags: OPF.OPTIONAL,
      origin: { configPath: 'linux.maskedPaths[0]', what: 'mask', file: '/proc/acpi' },
    });
    // /sys/firmware: beneath sysfs, the second slot.
    expect(find(p, (o) => o.op === 'MASK_AT').map((o) => o.args).find((a) => a[1] === 'firmware')).toEqual([2, 'firmware']);
    expect(find(p, (o) => o.op === 'READONLY_AT').map((o) => o.args)).toEqual([[1, 'bus'], [1, 'fs'], [1, 'irq'], [1, 'sys'], [1, 'sysrq-trigger']]);
  });

  it('mounts: proc, tmpfs data, sysfs kept, cgroup -> cgroup2', () => {
    const mounts = find(plan(rootSpec()), (o) => o.op === 'MOUNT' || o.op === 'MOUNT_FS');
    // MOUNT_FS: target, type, data, flags, propagation, slot (proc 1, sysfs 2).
    expect(mounts[0]!.args).toEqual(['/proc', 'proc', null, 0, 0, 1]);
    expect(mounts[0]!.flags).toBe(OPF.MKDIR);
    expect(mounts[1]!.args).toEqual(['tmpfs', '/dev', 'tmpfs', MS.NOSUID | MS.STRICTATIME, 'mode=755,size=65536k', 0]);
    expect(mounts[2]!.args).toEqual(['/dev/pts', 'devpts', 'newinstance,ptmxmode=0666,mode=0620,gid=5', MS.NOSUID | MS.NOEXEC, 0, 0]);
    expect(mounts[4]!.op).toBe('MOUNT_FS');
    expect(mounts[5]!.args).toEqual(['/sys', 'sysfs', null, MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY, 0, 2]);
    expect(mounts[6]!.args).toEqual(['cgroup', '/sys/fs/cgroup', 'cgroup2', MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RELATIME | MS.RDONLY, null, 0]);
    expect(mounts[6]!.origin).toEqual({ configPath: 'mounts[6]', what: 'mount `cgroup2` on', file: '/sys/fs/cgroup' });
  });

  it('devices are MKNOD without a user namespace', () => {
    const spec = rootSpec();
    spec.linux!.devices = [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o600 }];
    const nodes = find(plan(spec), (o) => o.op === 'MKNOD');
    expect(nodes.map((o) => o.args[0])).toEqual(['/dev/fuse', '/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty']);
    expect(nodes[0]!.args).toEqual(['/dev/fuse', 0o020600, makedev(10, 229)]);
    expect(nodes[0]!.origin.configPath).toBe('linux.devices[0]');
    expect(nodes[1]!.args).toEqual(['/dev/null', 0o020666, 0x103n]);
    expect(makedev(259, 65536)).toBe(0x10010300n);
    expect(makedev(0x12345, 0x678)).toBe(0x1200000634578n); // glibc makedev(3)
  });

  it('rlimits past 2^63 become RLIM_INFINITY; ambient = permitted & inheritable', () => {
    const spec = rootSpec();
    spec.process!.rlimits = [
      { type: 'RLIMIT_CORE', soft: 0, hard: 18446744073709551615 },
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2 ** 63 },
    ];
    spec.process!.capabilities!.inheritable = ['CAP_KILL', 'CAP_AUDIT_WRITE'];
    // As `runc spec` lists them: ambient, but NET_BIND_SERVICE not inheritable.
    spec.process!.capabilities!.ambient = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];
    const p = plan(spec);
    const inf = 18446744073709551615n;
    expect(find(p, (o) => o.op === 'RLIMIT').map((o) => o.args)).toEqual([[4, 0n, inf], [7, 1024n, inf]]);
    expect(find(p, (o) => o.op === 'CAPBSET')[0]!.args).toEqual([CAPS14, 40]);
    const inh = (1n << 5n) | (1n << 29n);
    expect(find(p, (o) => o.op === 'CAPS')[0]!.args).toEqual([CAPS14, CAPS14, inh, inh]);
    expect(p.notes).toEqual(['process.capabilities.ambient: capabilities not also permitted and inheritable are left out']);
  });

  it('no inheritable set: no ambient caps; caps above cap_last_cap are skipped', () => {
    const spec = rootSpec();
    spec.process!.capabilities!.bounding = ['CAP_KILL', 'CAP_BPF'];
    const p = buildPlan(spec, { bundle, host: { ...ROOT, capLastCap: 38 } });
    expect(find(p, (o) => o.op === 'CAPBSET')[0]!.args).toEqual([1n << 5n, 38]);
    expect(find(p, (o) => o.op === 'CAPS')[0]!.args).toEqual([CAPS14, CAPS14, 0n, 0n]);
  });

  it('create: the last steps before EXEC report `created` and wait at the exec FIFO', () => {
    const p = buildPlan(rootSpec(), { bundle, host: ROOT, waitStart: { dirFd: 9, fifo: 'exec.fifo' } });
    expect(p.ops.slice(-3).map((o) => [o.op, ...o.args.slice(0, 2)])).toEqual([
      ['SYNC', STAGE.CREATED], ['WAIT_START', 9, 'exec.fifo'], ['EXEC', p.ops.at(-1)!.args[0], 0],
    ]);
    expect(plan(rootSpec()).ops.some((o) => o.op === 'WAIT_START')).toBe(false);
  });

  it('EXEC searches the container PATH', () => {
    const p = plan(rootSpec());
    expect(find(p, (o) => o.op === 'EXEC')[0]).toEqual({
      op: 'EXEC',
      args: [['/usr/local/sbin/sh', '/usr/local/bin/sh', '/usr/sbin/sh', '/usr/bin/sh', '/sbin/sh', '/bin/sh'], 0, ['sh'], 0,
        ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm']],
      origin: { configPath: 'process.args[0]', what: 'exec', file: 'sh' },
    });
    expect(execCandidates('/bin/ls', ['PATH=/x'])).toEqual(['/bin/ls']);
    expect(execCandidates('ls', ['PATH=/a/:/b::/b'])).toEqual(['/a/ls', '/b/ls', './ls']);
    expect(execCandidates('ls', [])).toEqual(['/usr/local/sbin/ls', '/usr/local/bin/ls', '/usr/sbin/ls', '/usr/bin/ls', '/sbin/ls', '/bin/ls']);
  });

  it('terminal: consoleSize and the owner reach CONSOLE; none without process.terminal', () => {
    const spec = rootSpec();
    spec.process!.consoleSize = { height: 40, width: 120 };
    spec.process!.user = { uid: 5, gid: 5 };
    expect(find(plan(spec), (o) => o.op === 'CONSOLE')[0]!.args).toEqual([CONSOLE_FLAGS.MOUNT, 40, 120, 5]);
    spec.process!.terminal = false;
    expect(names(plan(spec)).filter((n) => n === 'SETSID' || n === 'CONSOLE')).toEqual([]);
  });

  it('exec with a terminal: the pty comes after every join; /dev/console is left alone; the fork into the pid namespace after the mount namespace', () => {
    const joins = [{ type: 'mount', path: '/proc/self/fd/5', file: '/proc/9/ns/mnt' }, { type: 'pid', path: '/proc/self/fd/6', file: '/proc/9/ns/pid' }];
    const p = buildExecPlan({ ...rootSpec().process!, terminal: true, consoleSize: { height: 10, width: 20 } }, { host: ROOT, joins });
    expect(names(p).slice(0, 7)).toEqual(['SETNS', 'SETNS', 'FORK_INIT', 'SYNC', 'SETSID', 'CONSOLE', 'RLIMIT']);
    expect(p.ops.slice(0, 2).map((o) => o.args[0])).toEqual(['/proc/self/fd/6', '/proc/self/fd/5']);
    expect(find(p, (o) => o.op === 'CONSOLE')[0]!.args).toEqual([0, 10, 20, 0]);
  });
});

describe('buildPlan as uid 0 of a user namespace (rootless podman)', () => {
  it('binds devices instead of mknod: root there has no CAP_MKNOD over the host', () => {
    const p = plan(rootSpec(), { ...ROOT, rootless: true });
    expect(p.ops.some((o) => o.op === 'MKNOD')).toBe(false);
    expect(p.ops.filter((o) => o.op === 'MOUNT' && o.args[1] === '/dev/null')).toHaveLength(1);
    expect(plan(rootSpec()).ops.some((o) => o.op === 'MKNOD')).toBe(true);
  });
});

describe('buildPlan rootless', () => {
  it('rootless spec: user namespace written by the caller, setgroups denied, devices bound', () => {
    const p = plan(rootlessSpec(), USER);
    expect(p.cloneFlags).toBe(CLONE.NEWPID | CLONE.NEWIPC | CLONE.NEWUTS | CLONE.NEWNS | CLONE.NEWUSER);
    expect(p.idmap).toEqual({
      uid: [{ containerID: 0, hostID: 1000, size: 1 }], gid: [{ containerID: 0, hostID: 1000, size: 1 }],
      uidMethod: 'write', gidMethod: 'write', setgroupsDeny: true,
    });
    // Nothing to say: the default spec (as Docker's) has no ambient capabilities to leave out.
    expect(p.notes).toEqual([]);
    expect(names(p)).toEqual([
      // The cgroup mount: no cgroup namespace of its own, so a read-only rbind of the host's.
      // sysfs is a bind of the host's here (no netns): /sys/firmware is masked by its path.
      'SYNC', 'BECOME_ROOT', 'MOUNT_ROOT_PROPAGATION', 'ROOTFS', 'UMASK', 'MOUNT_FS', 'MOUNT', 'MOUNT_FS', 'MOUNT', 'MOUNT_FS', 'MOUNT', 'MOUNT',
      'MOUNT_SETATTR', ...rep(6, 'MOUNT'), ...rep(5, 'SYMLINK'),
      'PIVOT', 'SETHOSTNAME', 'SETSID', 'CONSOLE', ...rep(5, 'READONLY_AT'), ...rep(8, 'MASK_AT'), 'MASK', 'MASK_AT', ...TAIL,
    ]);
    const mounts = find(p, (o) => o.op === 'MOUNT' || o.op === 'MOUNT_FS');
    expect(mounts[5]!.args).toEqual(['/sys', '/sys', null, MS.BIND | MS.REC | MS.NOSUID | MS.NOEXEC | MS.NODEV | MS.RDONLY, null, 0]);
    expect(mounts[5]!.flags).toBe(OPF.MKDIR);
    expect(mounts[2]!.args[2]).toBe('newinstance,ptmxmode=0666,mode=0620');
    expect(mounts.slice(7).map((o) => o.args)).toEqual(
      ['/dev/null', '/dev/zero', '/dev/full', '/dev/random', '/dev/urandom', '/dev/tty'].map((d) => [d, d, null, MS.BIND, null, 0]),
    );
    expect(mounts[7]!.flags).toBe(OPF.MKFILE);
    expect(mounts[7]!.origin).toEqual({ configPath: 'linux.devices', what: 'bind mount device `/dev/null` on', file: '/dev/null' });
    expect(find(p, (o) => o.op === 'USER')[0]!.args).toEqual([0, 0, 0, []]);
  });

  it('adds a user namespace when the config has none, and sysfs stays with a netns', () => {
    const p = plan(rootSpec(), USER);
    expect(p.cloneFlags).toBe(0x6c020000 | CLONE.NEWUSER);
    expect(p.notes[0]).toBe('rootless: added a user namespace mapping uid 1000 and gid 1000 to 0 (the config has none)');
    expect(p.idmap?.uid).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(p.idmap?.setgroupsDeny).toBe(true);
    expect(find(p, (o) => o.op === 'MKNOD')).toEqual([]);
    expect(find(p, (o) => o.op === 'MOUNT_FS')[3]!.args).toEqual(['/sys', 'sysfs', null, 15, 0, 2]);
  });

  it('drops devpts\'s gid=5 the added user namespace does not map, and says so', () => {
    const p = plan(rootSpec(), USER);
    const devpts = find(p, (o) => o.op === 'MOUNT_FS')[1]!;
    expect(devpts.args).toEqual(['/dev/pts', 'devpts', 'newinstance,ptmxmode=0666,mode=0620', MS.NOSUID | MS.NOEXEC, 0, 0]);
    expect(p.notes).toContain('mounts[2].options: gid=5 is not mapped in the user namespace: dropped');
  });

  it('keeps a mount\'s gid= the mappings cover', () => {
    const spec = rootSpec();
    spec.linux!.namespaces!.push({ type: 'user' });
    spec.linux!.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    spec.linux!.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    const p = plan(spec, USER_SUB);
    expect(find(p, (o) => o.op === 'MOUNT_FS')[1]!.args[2]).toBe('newinstance,ptmxmode=0666,mode=0620,gid=5');
    expect(p.notes.join('\n')).not.toContain('gid=5');
  });

  it('refuses an unmapped uid= that owns a mount\'s root, pointing at launch spec --rootless', () => {
    const spec = rootSpec();
    spec.mounts!.push({ destination: '/data', type: 'tmpfs', source: 'tmpfs', options: ['uid=1000', 'mode=0700'] });
    const e = specErr(() => plan(spec, USER));
    expect(e.configPath).toBe(`mounts[${spec.mounts!.length - 1}].options`);
    expect(e.message).toBe('`uid=1000` is not mapped in the user namespace: map it, or for a rootless config start from `launch spec --rootless`');
  });

  it('sysfs becomes an rbind of /sys with a user namespace and no netns', () => {
    const spec = rootSpec();
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== 'network');
    const m = find(plan(spec, USER), (o) => o.op === 'MOUNT' || o.op === 'MOUNT_FS')[5]!;
    expect(m.args).toEqual(['/sys', '/sys', null, MS.BIND | MS.REC | MS.NOSUID | MS.NODEV | MS.NOEXEC | MS.RDONLY, null, 0]);
    expect(m.origin).toEqual({ configPath: 'mounts[5]', what: 'bind mount `/sys` on', file: '/sys' });
  });

  it('subordinate ranges go through newuidmap/newgidmap', () => {
    const spec = rootlessSpec();
    spec.linux!.uidMappings!.push({ containerID: 1, hostID: 100000, size: 65536 });
    spec.linux!.gidMappings!.push({ containerID: 1, hostID: 100000, size: 65536 });
    spec.process!.user = { uid: 1000, gid: 1000, additionalGids: [5, 100] };
    const p = plan(spec, USER_SUB);
    expect(p.idmap).toMatchObject({ uidMethod: 'helper', gidMethod: 'helper', setgroupsDeny: false });
    expect(find(p, (o) => o.op === 'USER')[0]!.args).toEqual([1000, 1000, 1, ['5', '100']]);
  });

  it('helper missing, range not delegated, ids not mapped', () => {
    const spec = rootlessSpec();
    spec.linux!.uidMappings!.push({ containerID: 1, hostID: 100000, size: 65536 });
    let e = specErr(() => plan(spec, { ...USER_SUB, newuidmap: undefined }));
    expect([e.configPath, e.message]).toEqual(['linux.uidMappings', 'mapping more than your own uid needs newuidmap (apt-get install uidmap), which is not installed']);
    spec.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 1000 }];
    e = specErr(() => plan(spec, USER_SUB));
    expect([e.configPath, e.file, e.message]).toEqual(['linux.uidMappings[0]', '/etc/subuid', 'host uids 200000-200999 are not delegated to alice in']);
    const s2 = rootlessSpec();
    s2.process!.user = { uid: 5, gid: 0 };
    expect(specErr(() => plan(s2, USER)).configPath).toBe('process.user.uid');
    s2.process!.user = { uid: 0, gid: 0, additionalGids: [0] };
    e = specErr(() => plan(s2, USER));
    expect(e.configPath).toBe('process.user.additionalGids');
  });
});

describe('spec errors', () => {
  const without = (type: string) => {
    const spec = rootSpec();
    spec.linux!.namespaces = spec.linux!.namespaces!.filter((n) => n.type !== type);
    return spec;
  };
  it('namespaces', () => {
    const e = specErr(() => plan(without('mount')));
    // Issue 16: runc runs such a config (chroot); what would mount on the host is refused.
    expect([e.configPath, e.message]).toEqual(['mounts[0]', 'needs a mount namespace of its own (add {"type": "mount"} to linux.namespaces): without one, launch would mount on the host']);
    const h = specErr(() => plan(without('uts')));
    expect([h.configPath, h.message]).toEqual(['hostname', 'needs a uts namespace of its own (add {"type": "uts"} to linux.namespaces)']);
  });
  it('missing bind source and rootfs', () => {
    const spec = rootSpec();
    spec.mounts!.push({ destination: '/data', type: 'bind', source: 'nope', options: ['rbind'] });
    const e = specErr(() => plan(spec));
    expect([e.configPath, e.file, e.errno, e.message]).toEqual(['mounts[7].source', join(bundle, 'nope'), 2, 'bind source does not exist']);
    const s2 = rootSpec();
    s2.root = { path: 'missing' };
    const r = specErr(() => plan(s2));
    expect([r.configPath, r.file, r.errno]).toEqual(['root.path', join(bundle, 'missing'), 2]);
  });
  it('unknown capability and idmap mounts', () => {
    const spec = rootSpec();
    spec.process!.capabilities!.bounding = ['CAP_BOGUS'];
    const e = specErr(() => plan(spec));
    expect([e.configPath, e.message]).toEqual(['process.capabilities.bounding[0]', 'unknown capability `CAP_BOGUS`']);
    const s2 = rootSpec();
    s2.mounts!.push({ destination: '/data', type: 'bind', source: '/tmp', options: ['rbind', 'idmap'] });
    const m = specErr(() => plan(s2));
    expect([m.configPath, m.message]).toEqual(['mounts[7].options', 'mount option `idmap` is not supported yet']);
  });
});

describe('encodePlan', () => {
  it('header fields and addon validation of a golden plan', () => {
    const p = plan(rootSpec());
    const buf = encodePlan(p.ops);
    expect(buf.readUInt32LE(0)).toBe(0x484e434c);
    expect(buf.readUInt32LE(4)).toBe(1);
    expect(buf.readUInt32LE(8)).toBe(buf.length);
    expect(buf.readUInt32LE(12)).toBe(p.ops.length);
    expect(buf.readUInt32LE(16)).toBe(32 + 56 * p.ops.length);
    expect(buf.readUInt32LE(20)).toBe(buf.length - 32 - 56 * p.ops.length);
    expect(buf[buf.length - 1]).toBe(0);
    expect(native().validatePlan(buf)).toBe(p.ops.length);
    expect(native().validatePlan(encodePlan(plan(rootlessSpec(), USER).ops))).toBe(52);
  });
  it('slot layout: strings, NONE, lists with counts, 64-bit numbers', () => {
    const buf = encodePlan([
      { op: 'MOUNT', args: [null, '/t', 'tmpfs', 3, null, 0], origin: { what: 'm' } },
      { op: 'EXEC', args: [['/a', '/b'], 0, ['a'], 0, []], origin: { what: 'e' } },
      { op: 'RLIMIT', args: [7, -1, 18446744073709551615n], origin: { what: 'r' } },
    ]);
    const slot = (op: number, a: number) => buf.readBigUInt64LE(32 + op * 56 + 8 + a * 8);
    expect(buf.readUInt32LE(32)).toBe(6);
    expect([0, 1, 2, 3, 4, 5].map((a) => slot(0, a))).toEqual([0xffffffffn, 0n, 3n, 3n, 0xffffffffn, 0n]);
    expect([0, 1, 2, 3, 4, 5].map((a) => slot(1, a))).toEqual([9n, 2n, 15n, 1n, 0n, 0n]);
    expect([slot(2, 1), slot(2, 2)]).toEqual([2n ** 64n - 1n, 2n ** 64n - 1n]);
    expect(buf.subarray(buf.readUInt32LE(16)).toString('latin1')).toBe('/t\0tmpfs\0/a\0/b\0a\0');
    expect(native().validatePlan(buf)).toBe(3);
  });
  it('a string with a NUL byte throws', () => {
    expect(() => encodePlan([{ op: 'ROOTFS', args: ['/a\0b'], origin: { what: 'x' } }])).toThrow(
      new TypeError('plan string contains a NUL byte: "/a\\u0000b"'),
    );
    expect(() => encodePlan([{ op: 'EXEC', args: [['x'], 0, ['x'], 0, ['A=\0']], origin: { what: 'x' } }])).toThrow(TypeError);
  });
});

describe('cgroup mount on a v1 host', () => {
  it('is a tmpfs with each hierarchy subtree bound in, symlinks for joined controllers, then read-only', async () => {
    const { v1Hierarchies } = await import('../../lib/cgroups/manager.js');
    const mount = mkdtempSync(join(tmpdir(), 'cgv1-'));
    for (const d of ['memory', 'cpu,cpuacct', 'systemd']) mkdirSync(join(mount, d));
    const hier = v1Hierarchies('5:memory:/infra\n4:cpu,cpuacct:/\n1:name=systemd:/x\n0::/\n', undefined, mount);
    expect(hier).toEqual([
      { name: 'memory', hostDir: join(mount, 'memory/infra'), links: [] },
      { name: 'cpu,cpuacct', hostDir: join(mount, 'cpu,cpuacct/'), links: ['cpu', 'cpuacct'] },
      { name: 'systemd', hostDir: join(mount, 'systemd/x'), links: [] },
    ]);
    const p = buildPlan(rootSpec(), { bundle, host: { ...ROOT, cgroupVersion: 1 }, cgroupV1: hier });
    const at = p.ops.findIndex((o) => o.op === 'MOUNT' && o.args[1] === '/sys/fs/cgroup');
    const ops = p.ops.slice(at, at + 7).map((o) => [o.op, o.args[0], o.args[1]]);
    expect(ops).toEqual([
      ['MOUNT', 'tmpfs', '/sys/fs/cgroup'],
      ['MOUNT', join(mount, 'memory/infra'), '/sys/fs/cgroup/memory'],
      ['MOUNT', join(mount, 'cpu,cpuacct/'), '/sys/fs/cgroup/cpu,cpuacct'],
      ['SYMLINK', 'cpu,cpuacct', '/sys/fs/cgroup/cpu'],
      ['SYMLINK', 'cpu,cpuacct', '/sys/fs/cgroup/cpuacct'],
      ['MOUNT', join(mount, 'systemd/x'), '/sys/fs/cgroup/systemd'],
      ['MOUNT_SETATTR', '/sys/fs/cgroup', MOUNT_ATTR.RDONLY],
    ]);
    rmSync(mount, { recursive: true });
  });
});

// Found by test/unit/spec-fuzz.test.ts.
describe('plan edge cases the fuzzer found', () => {
  it('a config with more setup steps than the child takes is refused with the list that makes them, not a RangeError', () => {
    const spec = rootSpec();
    spec.linux!.maskedPaths = Array<string>(150_000).fill('/a');
    expect(specErr(() => plan(spec))).toMatchObject({ configPath: 'linux.maskedPaths', message: expect.stringMatching(/^makes \d+ setup steps; launch takes at most 4096$/) });
  });

  it('sysctl ops name their entry as the loader does: linux.sysctl["net.ipv4.ip_forward"]', () => {
    const spec = rootSpec();
    spec.linux!.sysctl = { 'net.ipv4.ip_forward': '1' };
    expect(find(plan(spec), (o) => o.op === 'WRITE_FILE')[0]!.origin.configPath).toBe('linux.sysctl["net.ipv4.ip_forward"]');
  });

  it('mount options named like Object.prototype members are options, not lookups', () => {
    expect(parseMountOptions(['constructor', 'toString', 'mode=755']).data).toEqual(['constructor', 'toString', 'mode=755']);
  });
});

describe('network and user namespace steps', () => {
  it('LOOPBACK only for a network namespace of its own; BECOME_ROOT only where 0 is mapped', () => {
    const host = rootSpec();
    host.linux!.namespaces = host.linux!.namespaces!.filter((n) => n.type !== 'network');
    expect(names(plan(host))).not.toContain('LOOPBACK');
    const joined = rootSpec();
    joined.linux!.namespaces = joined.linux!.namespaces!.map((n) => (n.type === 'network' ? { ...n, path: '/proc/1/ns/net' } : n));
    expect(names(plan(joined))).not.toContain('LOOPBACK');
    expect(names(plan(rootSpec())).slice(0, 2)).toEqual(['SYNC', 'LOOPBACK']);
    const sub = rootSpec();
    sub.linux!.namespaces!.push({ type: 'user' });
    sub.linux!.uidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
    sub.linux!.gidMappings = [{ containerID: 0, hostID: 300000, size: 65536 }];
    // Become root first: the loopback and every mount after it are made as the namespace's root.
    expect(names(plan(sub)).slice(0, 3)).toEqual(['SYNC', 'BECOME_ROOT', 'LOOPBACK']);
    sub.linux!.uidMappings = [{ containerID: 1000, hostID: 300000, size: 1 }];
    expect(names(plan({ ...sub, process: { ...sub.process!, user: { uid: 1000, gid: 0 } } }))).not.toContain('BECOME_ROOT');
  });

  it('a bind whose source is a detached tree is flagged TREE', () => {
    const s = rootSpec();
    s.mounts!.push({ destination: '/etc/hosts', type: 'bind', source: '/proc/self/fd/0', options: ['bind'] }, { destination: '/x', type: 'bind', source: '/etc', options: ['bind'] });
    const p = buildPlan(s, { bundle, host: ROOT, treeSources: new Set(['/proc/self/fd/0']) });
    const binds = p.ops.filter((o) => o.op === 'MOUNT' && (o.args[0] === '/proc/self/fd/0' || o.args[0] === '/etc'));
    expect(binds.map((o) => [o.args[0], (o.flags! & OPF.TREE) !== 0])).toEqual([['/proc/self/fd/0', true], ['/etc', false]]);
  });
});

describe('linux.rootfsPropagation and configs without a mount namespace (issue 16)', () => {
  const bundle = mkdtempSync(join(tmpdir(), 'launch-prop-plan-'));
  mkdirSync(join(bundle, 'rootfs'));
  afterAll(() => rmSync(bundle, { recursive: true, force: true }));
  const host: HostFacts = { uid: 0, gid: 0, userName: 'root', subuid: [], subgid: [], newuidmap: undefined, newgidmap: undefined, capLastCap: 40, cgroupVersion: 2, rootless: false };

  // Before: the config's value went on the host-side tree before the root was bound (shared
  // then failed pivot_root, unbindable the bind), and no op came after the pivot.
  it('the host side stays rslave; the value goes on the container\'s / after every mount step', () => {
    const s = defaultSpec({ rootless: false });
    delete s.linux!.seccomp;
    s.linux!.rootfsPropagation = 'rshared';
    const ops = buildPlan(s, { bundle, host }).ops;
    const props = ops.filter((o) => o.op === 'MOUNT_ROOT_PROPAGATION');
    expect(props.map((o) => o.args[0])).toEqual([MS.SLAVE | MS.REC, MS.SHARED | MS.REC]);
    const last = ops.findLastIndex((o) => ['MOUNT', 'MASK', 'READONLY', 'PIVOT', 'REMOUNT_ROOT_RO'].includes(o.op));
    expect(ops.indexOf(props[1]!)).toBeGreaterThan(last);
  });

  // Before: "linux.namespaces: a mount namespace is required to set up the root filesystem".
  it('without a mount namespace: chroot, nothing mounted; what needs a mount is refused with its path', () => {
    const s = defaultSpec({ rootless: false });
    delete s.linux!.seccomp;
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount');
    expect(thrown(() => buildPlan(s, { bundle, host }))).toMatchObject({ configPath: 'mounts[0]' });
    s.mounts = [];
    expect(thrown(() => buildPlan(s, { bundle, host }))).toMatchObject({ configPath: 'linux.maskedPaths[0]' });
    delete s.linux!.maskedPaths;
    expect(thrown(() => buildPlan(s, { bundle, host }))).toMatchObject({ configPath: 'linux.readonlyPaths[0]' });
    delete s.linux!.readonlyPaths;
    s.root!.readonly = true;
    expect(thrown(() => buildPlan(s, { bundle, host }))).toMatchObject({ configPath: 'root.readonly' });
    s.root!.readonly = false;
    const ops = buildPlan(s, { bundle, host }).ops.map((o) => o.op);
    expect(ops).toContain('CHROOT');
    expect(ops.filter((o) => /^(MOUNT.*|PIVOT|ROOTFS|MASK|READONLY|MKNOD|SYMLINK|REMOUNT_ROOT_RO)$/.test(o))).toEqual([]);
  });
});
