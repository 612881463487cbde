// Spec + host facts -> Plan. Every policy decision of a container start lives here, as a pure
// function (apart from stat() of paths named by the config), so it is tested by golden plans.
import { specError } from '../errors.js';
import type { HostFacts } from '../host.js';
import { formatConfigPath } from '../spec/load.js';
import { type Seccomp, type Spec, isSysctlName } from '../spec/schema.js';
import { capNumber } from './caps.js';
import { type IdMap, planIdMaps } from './idmap.js';
import { lsmOps } from './lsm.js';
import { CONSOLE_FLAGS, OPF, STAGE, type Op } from './ops.js';
import { noMountNsOps } from './nomountns.js';
import { type MountSlots, type RootfsContext, finalizeRootfsOps, rootPropagationOps, rootfsOps } from './rootfs.js';
import { FILTER_FLAG, type SeccompCompiler, compileFilter, seccompFilter } from './seccomp.js';
import { type NsOf, checkSysctl, isOwnNamespace } from './sysctl.js';

export const CLONE = {
  NEWTIME: 0x80, NEWNS: 0x20000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000, NEWIPC: 0x8000000,
  NEWUSER: 0x10000000, NEWPID: 0x20000000, NEWNET: 0x40000000,
} as const;

const NS_FLAG: Record<string, number> = {
  pid: CLONE.NEWPID, network: CLONE.NEWNET, mount: CLONE.NEWNS, ipc: CLONE.NEWIPC, uts: CLONE.NEWUTS,
  user: CLONE.NEWUSER, cgroup: CLONE.NEWCGROUP, time: CLONE.NEWTIME,
};

// Joining order: the user namespace first (it decides what we may do in the others), the
// mount namespace last (after it, the other paths would be looked up in the container's view).
const JOIN_ORDER = ['user', 'ipc', 'uts', 'network', 'pid', 'cgroup', 'time', 'mount'];

const RLIMITS: Record<string, number> = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
};

// JSON numbers past 2^53 arrive rounded: 18446744073709551615 (RLIM_INFINITY) reads as 2^64.
const RLIM_INFINITY = (1n << 64n) - 1n;
const rlimitValue = (v: number): bigint => (v >= 2 ** 63 ? RLIM_INFINITY : BigInt(v));

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export interface PlanOptions {
  bundle: string;
  host: HostFacts;
  /** v1 hosts: the hierarchies a `cgroup` mount shows (lib/cgroups/manager.ts). */
  cgroupV1?: RootfsContext['cgroupV1'];
  /** Kill the container when launch dies (foreground run): nothing may outlive it. */
  dieWithParent?: boolean;
  /** `create`: stop before the exec, at the exec FIFO `fifo` in the directory open as `dirFd`. */
  waitStart?: { dirFd: number; fifo: string };
  /** Fds 3..3+N-1 stay open for the program (--preserve-fds, LISTEN_FDS). */
  preserveFds?: number;
  /** --no-pivot: the root is moved over / and chrooted into, not pivot_root'ed. */
  noPivot?: boolean;
  /** The session keyring the process joins (`_ses.<id>`, as runc); none with --no-new-keyring. */
  sessionKeyring?: string;
  /** The files (open before the clone, written by the parent at the first sync) the in-container
   * hooks read their state from: needed when the config has such hooks (lib/runtime/hooks.ts). */
  hookStateFds?: { createContainer: number; startContainer: number };
  /** Compiles linux.seccomp (the addon's libseccomp); needed when the config has one. */
  seccomp?: SeccompCompiler;
  /** The exec trampoline's image (lib/runtime/execimage.ts): the program is exec'd through it. */
  execImage?: Uint8Array;
  /** A network helper opens the init's namespaces at its first sync (lib/network/). */
  openNamespaces?: boolean;
  /** Bind sources that are detached trees launch opened (RootfsContext.treeSources). */
  treeSources?: ReadonlySet<string>;
}

export interface Plan {
  ops: Op[];
  cloneFlags: number;
  /** A pid namespace to create the child in (linux.namespaces[].path of type pid). */
  pidnsPath?: string;
  idmap?: IdMap;
  oomScoreAdj?: number;
  /** linux.seccomp.listenerPath and listenerMetadata, when a rule notifies: the child's
   * listener fd (MSG.SECCOMP) goes there. */
  seccompListener?: { path: string; metadata: string };
  /** Things --debug should say (e.g. "added a user namespace"). */
  notes: string[];
}

interface NsDecision {
  cloneFlags: number;
  joins: { type: string; path: string; index: number }[];
  unshareAfterSync: number;
  pidnsPath?: string;
  userns: boolean;
  newUserns: boolean;
}

function decideNamespaces(spec: Spec, host: HostFacts, notes: string[]): NsDecision {
  const list = spec.linux?.namespaces ?? [];
  const want = new Map<string, { path?: string; index: number }>();
  list.forEach((ns, index) => want.set(ns.type, { path: ns.path || undefined, index }));
  if (host.uid !== 0 && !want.has('user')) {
    want.set('user', { index: -1 });
    notes.push(`rootless: added a user namespace mapping uid ${host.uid} and gid ${host.gid} to 0 (the config has none)`);
  }
  if (spec.linux?.timeOffsets && Object.keys(spec.linux.timeOffsets).length > 0) {
    // The offsets must be written before any process is in the namespace; clone3 puts the
    // child there at once. Needs the unshare-then-fork order: not done yet.
    throw specError('time offsets are not supported yet', { configPath: 'linux.timeOffsets' });
  }
  let cloneFlags = 0;
  let unshareAfterSync = 0;
  let pidnsPath: string | undefined;
  const joins: NsDecision['joins'] = [];
  for (const [type, w] of want) {
    const flag = NS_FLAG[type];
    if (flag === undefined) throw specError(`unknown namespace type \`${type}\``, { configPath: `linux.namespaces[${w.index}].type` });
    if (w.path) {
      if (type === 'pid') pidnsPath = w.path;
      else joins.push({ type, path: w.path, index: w.index });
    } else if (type === 'cgroup') {
      // Created after the parent's sync, so the container's cgroup (once the parent has put
      // the child there) becomes the namespace's root.
      unshareAfterSync |= flag;
    } else {
      cloneFlags |= flag;
    }
  }
  joins.sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
  const joinsUser = joins.some((j) => j.type === 'user');
  if (joinsUser) {
    // The new namespaces must belong to the joined user namespace: create them after setns
    // (a new pid namespace then needs a fork: FORK_INIT).
    unshareAfterSync |= cloneFlags;
    cloneFlags = 0;
  }
  const newUserns = (cloneFlags & CLONE.NEWUSER) !== 0;
  return { cloneFlags, joins, unshareAfterSync, pidnsPath, userns: newUserns || joinsUser, newUserns };
}

/** The container has a namespace of this type: new (by clone or unshare) or joined. */
function hasNs(ns: NsDecision, flag: number, type: string): boolean {
  return ((ns.cloneFlags | ns.unshareAfterSync) & flag) !== 0 || ns.joins.some((j) => j.type === type);
}

function requireNs(ns: NsDecision, flag: number, type: string, configPath: string): void {
  if (!hasNs(ns, flag, type)) throw specError(`needs a ${type} namespace of its own (add {"type": "${type}"} to linux.namespaces)`, { configPath });
}

function capMask(names: readonly string[] | undefined, configPath: string, host: HostFacts): bigint {
  let mask = 0n;
  (names ?? []).forEach((name, i) => {
    const n = capNumber(name);
    if (n === undefined) throw specError(`unknown capability \`${name}\``, { configPath: `${configPath}[${i}]` });
    // Known to launch but newer than this kernel: skipped, as runc does.
    if (n <= host.capLastCap) mask |= 1n << BigInt(n);
  });
  return mask;
}

/** Candidate paths for args[0]: execvp's search, done now against the container's PATH. */
export function execCandidates(arg0: string, env: readonly string[]): string[] {
  if (arg0.includes('/')) return [arg0];
  const pathVar = env.find((e) => e.startsWith('PATH='))?.slice(5) ?? DEFAULT_PATH;
  const dirs = pathVar.split(':').map((d) => d.replace(/\/+$/, '') || (d ? '' : '.'));
  return [...new Set(dirs.map((d) => `${d}/${arg0}`))];
}

type ProcessOptions = Pick<PlanOptions, 'host' | 'dieWithParent' | 'waitStart' | 'preserveFds' | 'sessionKeyring' | 'execImage'> & { seccompOp?: Op };

/** The SECCOMP op for linux.seccomp (compiled now), and where a notify fd must go. */
function seccompOp(s: Seccomp | undefined, compiler: SeccompCompiler | undefined, plan: Pick<Plan, 'notes' | 'seccompListener'>): Op | undefined {
  if (!s) return undefined;
  if (!compiler) throw new Error('buildPlan: linux.seccomp needs PlanOptions.seccomp');
  const filter = seccompFilter(s, plan.notes);
  const { bpf, flags } = compileFilter(filter, compiler, plan.notes);
  if (filter.notify) plan.seccompListener = { path: s.listenerPath!, metadata: s.listenerMetadata ?? '' };
  return { op: 'SECCOMP', args: [bpf, 0, flags], origin: { configPath: 'linux.seccomp', what: 'load the seccomp filter' } };
}

/** process.terminal, as runc: the init opens the pty at the container's /dev/ptmx (so it
 * belongs to the container's devpts), makes it its controlling terminal and stdio, and sends
 * the master to launch. A new container also gets the slave bound over /dev/console. Goes
 * where the container's /dev is in place and still writable: after pivot_root (or the join
 * of the mount namespace), before readonlyPaths and root.readonly. */
function terminalOps(proc: Spec['process'], mountConsole: boolean): Op[] {
  if (!proc?.terminal) return [];
  const size = proc.consoleSize;
  return [
    { op: 'SETSID', args: [], origin: { configPath: 'process.terminal', what: 'start a new session' } },
    {
      op: 'CONSOLE',
      args: [mountConsole ? CONSOLE_FLAGS.MOUNT : 0, size?.height ?? 0, size?.width ?? 0, proc.user?.uid ?? 0],
      origin: { configPath: 'process.terminal', what: 'set up the terminal at', file: '/dev/ptmx' },
    },
  ];
}

/** The process part of a plan (rlimits, terminal, credentials, cwd, exec), shared by `run`
 * and `exec`. */
function processOps(proc: Spec['process'], opts: ProcessOptions, idmap: IdMap | undefined, notes: string[]): Op[] {
  if (!proc) throw specError('is required to run a container', { configPath: 'process' });
  const ops: Op[] = [];
  // First: its memfd is made before a seccomp filter could refuse memfd_create.
  if (opts.execImage) ops.push({ op: 'EXEC_IMAGE', args: [opts.execImage, 0], origin: { what: 'prepare the exec trampoline' } });
  if (opts.sessionKeyring) {
    // Before the credentials change: the keyring belongs to the container's user from here on.
    ops.push({ op: 'SESSION_KEYRING', args: [opts.sessionKeyring], origin: { what: 'join a new session keyring', file: opts.sessionKeyring } });
  }
  (proc.rlimits ?? []).forEach((rl, i) => {
    const res = RLIMITS[rl.type];
    if (res === undefined) throw specError(`unknown rlimit \`${rl.type}\``, { configPath: `process.rlimits[${i}].type` });
    ops.push({
      op: 'RLIMIT',
      args: [res, rlimitValue(rl.soft), rlimitValue(rl.hard)],
      origin: { configPath: `process.rlimits[${i}]`, what: `set ${rl.type} to ${rl.soft}/${rl.hard}` },
    });
  });
  const caps = proc.capabilities;
  if (caps) {
    ops.push({
      op: 'CAPBSET',
      args: [capMask(caps.bounding, 'process.capabilities.bounding', opts.host), opts.host.capLastCap],
      origin: { configPath: 'process.capabilities.bounding', what: 'drop capabilities from the bounding set' },
    });
  }
  const user = proc.user ?? { uid: 0, gid: 0 };
  const groups = (user.additionalGids ?? []).map(String);
  const setgroupsAllowed = !idmap || !idmap.setgroupsDeny;
  if (groups.length > 0 && !setgroupsAllowed) {
    throw specError('supplementary groups need newgidmap and a range in /etc/subgid; this user namespace maps one gid only', {
      configPath: 'process.user.additionalGids',
    });
  }
  if (idmap) {
    const check = (id: number, maps: IdMap['uid'], path: string, what: string) => {
      if (!maps.some((m) => id >= m.containerID && id < m.containerID + m.size)) {
        throw specError(`${what} ${id} is not mapped in the container's user namespace`, { configPath: path });
      }
    };
    check(user.uid, idmap.uid, 'process.user.uid', 'uid');
    check(user.gid, idmap.gid, 'process.user.gid', 'gid');
    (user.additionalGids ?? []).forEach((g, i) => check(g, idmap.gid, `process.user.additionalGids[${i}]`, 'gid'));
  }
  ops.push({
    op: 'USER',
    args: [user.uid, user.gid, setgroupsAllowed ? 1 : 0, groups],
    origin: { configPath: 'process.user', what: `switch to uid ${user.uid} gid ${user.gid}` },
  });
  if (caps) {
    // Without no_new_privs, loading the filter needs CAP_SYS_ADMIN, and the filter loads after
    // this (below): it stays permitted until then (the child raises it into the effective set
    // for the load). Harmless: an exec computes the new permitted set from the inheritable,
    // ambient and bounding sets and the file, never from the old permitted one.
    const keepAdmin = opts.seccompOp && !proc.noNewPrivileges ? 1n << BigInt(capNumber('CAP_SYS_ADMIN')!) : 0n;
    const asked = capMask(caps.permitted, 'process.capabilities.permitted', opts.host);
    const inheritable = capMask(caps.inheritable, 'process.capabilities.inheritable', opts.host);
    const ambient = capMask(caps.ambient, 'process.capabilities.ambient', opts.host);
    // The kernel raises an ambient capability only if it is permitted and inheritable; runc
    // leaves the others out silently (runc spec lists ambient caps it cannot grant), so do we.
    const grantable = ambient & asked & inheritable;
    if (grantable !== ambient) notes.push('process.capabilities.ambient: capabilities not also permitted and inheritable are left out');
    ops.push({
      op: 'CAPS',
      args: [capMask(caps.effective, 'process.capabilities.effective', opts.host), asked | keepAdmin, inheritable, grantable],
      origin: { configPath: 'process.capabilities', what: 'set capabilities' },
    });
  }
  if (opts.dieWithParent) {
    // After USER: a credential change clears the parent-death signal.
    ops.push({ op: 'SET_PDEATHSIG', args: [9], origin: { what: 'tie the container to launch' } });
  }
  if (proc.noNewPrivileges) {
    ops.push({ op: 'NO_NEW_PRIVS', args: [], origin: { configPath: 'process.noNewPrivileges', what: 'set no_new_privs' } });
  }
  // 0022 when the config says nothing, as runc.
  ops.push({ op: 'UMASK', args: [user.umask ?? 0o022], origin: { configPath: 'process.user.umask', what: 'set umask' } });
  const cwd = proc.cwd || '/';
  ops.push({ op: 'CHDIR', args: [cwd], origin: { configPath: 'process.cwd', what: 'change directory to', file: cwd } });
  const args = proc.args ?? [];
  if (args.length === 0 || !args[0]) throw specError('must name the program to run', { configPath: 'process.args' });
  const env = proc.env ?? [];
  if (opts.preserveFds) {
    // Before the filter: it marks the fds for the exec (child.c).
    ops.push({ op: 'PRESERVE_FDS', args: [opts.preserveFds], origin: { what: `keep ${opts.preserveFds} extra fds open` } });
  }
  // The filter loads after every step of launch's own (credentials, capabilities, cwd, the
  // `created` report, the wait for `start`): a profile may refuse any syscall but the exec
  // (older ones lack openat2, the conformance suite's denies it), and launch must not depend
  // on what it allows. Only the startContainer hooks and the exec come after it, as in runc.
  // A notify filter loads before `created`, so its fd reaches the listener while create
  // still runs (as runc).
  const notifies = opts.seccompOp !== undefined && (Number(opts.seccompOp.args[2]) & FILTER_FLAG.NEW_LISTENER) !== 0;
  if (opts.seccompOp && (notifies || !opts.waitStart)) ops.push(opts.seccompOp);
  if (opts.waitStart) {
    // Last, so that `created` means every namespace, mount and credential is in place.
    ops.push({ op: 'SYNC', args: [STAGE.CREATED], origin: { what: 'report the container created' } });
    ops.push({ op: 'WAIT_START', args: [opts.waitStart.dirFd, opts.waitStart.fifo], origin: { what: 'wait for `start` at', file: opts.waitStart.fifo } });
    // Right after WAIT_START: `launch start` reads a failure of it as op 1 (lib/lifecycle/start.ts).
    if (opts.seccompOp && !notifies) ops.push(opts.seccompOp);
  }
  ops.push({
    op: 'EXEC',
    args: [execCandidates(args[0], env), 0, args, 0, env],
    origin: { configPath: 'process.args[0]', what: 'exec', file: args[0] },
  });
  return ops;
}

/** createContainer and startContainer hooks run in the container's namespaces, so the child
 * forks them (RUN_HOOK). Their env is theirs alone: an absent `env` is empty, as in runc's init. */
function containerHookOps(spec: Spec, name: 'createContainer' | 'startContainer', opts: PlanOptions): Op[] {
  const hooks = spec.hooks?.[name] ?? [];
  if (hooks.length === 0) return [];
  const fd = opts.hookStateFds?.[name];
  if (fd === undefined) throw new Error(`buildPlan: hooks.${name} needs PlanOptions.hookStateFds`);
  return hooks.map((h, i) => ({
    op: 'RUN_HOOK',
    args: [h.path, h.args?.length ? h.args : [h.path], 0, h.env ?? [], 0, (BigInt(h.timeout ?? 0) << 32n) | BigInt(fd)],
    origin: { configPath: `hooks.${name}[${i}]`, what: 'run hook', file: h.path },
  }));
}

/** As runc: with the mounts in place and before pivot_root, the parent runs prestart and
 * createRuntime (at a sync, only when there are any), then the child runs createContainer. */
function createHookOps(spec: Spec, opts: PlanOptions): Op[] {
  const ops: Op[] = [];
  if (spec.hooks?.prestart?.length || spec.hooks?.createRuntime?.length) {
    ops.push({ op: 'SYNC', args: [STAGE.HOOKS], origin: { configPath: 'hooks', what: 'wait for the createRuntime hooks' } });
  }
  return [...ops, ...containerHookOps(spec, 'createContainer', opts)];
}

/** ops.push(...more) without spreading: a config with 100 000 mounts would overflow the
 * stack as arguments (and is refused by the size check in buildPlan). */
function append(to: Op[], more: readonly Op[]): void {
  for (const o of more) to.push(o);
}

/** The child's limit (LP_MAX_OPS in addon/common/plan.h): a plan this long is a config
 * error, said here with its cause rather than by the addon's validator. */
const MAX_OPS = 4096;

function checkSize(ops: readonly Op[], spec: Spec): void {
  if (ops.length <= MAX_OPS) return;
  // Named after the longest of the lists that make one or more steps each.
  const lists: [string, number][] = [
    ['mounts', spec.mounts?.length ?? 0], ['linux.maskedPaths', spec.linux?.maskedPaths?.length ?? 0],
    ['linux.readonlyPaths', spec.linux?.readonlyPaths?.length ?? 0], ['linux.devices', spec.linux?.devices?.length ?? 0],
    ['linux.sysctl', Object.keys(spec.linux?.sysctl ?? {}).length], ['process.rlimits', spec.process?.rlimits?.length ?? 0],
  ];
  const [configPath] = lists.reduce((a, b) => (b[1] > a[1] ? b : a));
  throw specError(`makes ${ops.length} setup steps; launch takes at most ${MAX_OPS}`, { configPath });
}

/** The child is not dumpable (CVE-2019-5736), so its /proc files belong to root: an
 * unprivileged launch writing its id maps or oom_score_adj at the USERMAP sync needs it
 * dumpable for that while (OPF.DUMPABLE). Root may write them anyway. */
function procWrites(host: HostFacts, idmap: boolean, proc: Spec['process'], openNamespaces = false): { flags?: number } {
  return host.rootless && (idmap || openNamespaces || proc?.oomScoreAdj !== undefined) ? { flags: OPF.DUMPABLE } : {};
}

const maps0 = (maps: IdMap['uid']) => maps.some((m) => m.containerID === 0 && m.size > 0);

/** Insert `add` before the first op named `before` (at the end if there is none). */
function insertBefore(ops: Op[], before: Op['op'][], add: Op[]): void {
  const at = ops.findIndex((o) => before.includes(o.op));
  const tail = ops.splice(at < 0 ? ops.length : at);
  append(ops, add);
  append(ops, tail);
}

export function buildPlan(spec: Spec, opts: PlanOptions): Plan {
  const notes: string[] = [];
  const ns = decideNamespaces(spec, opts.host, notes);
  const linux = spec.linux ?? {};
  const idmap = ns.newUserns || (ns.unshareAfterSync & CLONE.NEWUSER) ? planIdMaps(spec, opts.host) : undefined;
  const ops: Op[] = [];
  for (const j of ns.joins.filter((j) => j.type === 'user')) {
    ops.push({ op: 'SETNS', args: [j.path, NS_FLAG.user!], origin: { configPath: `linux.namespaces[${j.index}].path`, what: 'join user namespace', file: j.path } });
  }
  const early = ns.unshareAfterSync & ~CLONE.NEWCGROUP;
  if (early) ops.push({ op: 'UNSHARE', args: [early], origin: { configPath: 'linux.namespaces', what: 'create namespaces' } });
  if (early & CLONE.NEWPID) {
    ops.push({ op: 'FORK_INIT', args: [opts.dieWithParent ? 9 : 0], origin: { configPath: 'linux.namespaces', what: 'start the pid namespace\'s init' } });
  }
  // The parent writes the id maps (and, later, cgroup placement) while the child waits.
  ops.push({ op: 'SYNC', args: [STAGE.USERMAP], ...procWrites(opts.host, Boolean(idmap), spec.process, opts.openNamespaces), origin: { what: 'wait for the id mappings' } });
  // The child still has the parent's ids, unmapped there when root maps subordinate ids: be the
  // namespace's root before making anything in it (not needed, and harmless, otherwise).
  if (idmap && maps0(idmap.uid) && maps0(idmap.gid)) {
    ops.push({ op: 'BECOME_ROOT', args: [], origin: { configPath: 'linux.uidMappings', what: "become root of the container's user namespace" } });
  }
  // As runc: a new network namespace's loopback is down until someone brings it up. After the
  // id maps: it takes CAP_NET_ADMIN in the namespace's user namespace.
  if ((ns.cloneFlags | ns.unshareAfterSync) & CLONE.NEWNET) {
    ops.push({ op: 'LOOPBACK', args: [], origin: { configPath: 'linux.namespaces', what: 'bring up the loopback interface `lo`' } });
  }
  // With the host's /proc still in reach (lsm.ts).
  append(ops, lsmOps(spec.process, opts.host.lsm));
  const joinNs = (j: NsDecision['joins'][number]) =>
    ops.push({ op: 'SETNS', args: [j.path, NS_FLAG[j.type]!], origin: { configPath: `linux.namespaces[${j.index}].path`, what: `join ${j.type} namespace`, file: j.path } });
  for (const j of ns.joins.filter((j) => j.type !== 'user' && j.type !== 'mount')) joinNs(j);
  const nsOf: NsOf = (type) => {
    const joined = ns.joins.find((j) => j.type === type);
    return joined ?? (hasNs(ns, NS_FLAG[type]!, type) ? {} : undefined);
  };
  // Through the host's /proc, in the container's network, ipc and uts namespaces (a /proc/sys
  // file shows the writer's), before the container's mount namespace is joined or its root
  // set up (CVE-2025-52881): after pivot_root, `/proc/sys/net/x/core_pattern` is looked up in
  // the container's tree, where a mount whose destination is an image symlink into /proc (or
  // a rootfs entry swapped during the start) sends the write to another file: the host's
  // /proc/sys/kernel/core_pattern for a root container.
  for (const [key, value] of Object.entries(linux.sysctl ?? {})) {
    const configPath = formatConfigPath(['linux', 'sysctl', key]);
    // The schema refuses these already; a plan is also built from specs made in code.
    if (!isSysctlName(key)) throw specError(`invalid sysctl name \`${key}\``, { configPath });
    checkSysctl(key, nsOf, isOwnNamespace);
    const file = `/proc/sys/${key.replace(/\./g, '/')}`;
    ops.push({ op: 'WRITE_FILE', args: [file, String(value)], origin: { configPath, what: `write \`${value}\` to`, file } });
  }
  for (const j of ns.joins.filter((j) => j.type === 'mount')) joinNs(j);
  if (ns.unshareAfterSync & CLONE.NEWCGROUP) {
    ops.push({ op: 'UNSHARE', args: [CLONE.NEWCGROUP], origin: { configPath: 'linux.namespaces', what: 'create the cgroup namespace' } });
  }
  const slots: MountSlots = new Map();
  // Without a mount namespace: chroot, after the hostname (the sysctls are written above,
  // through the host's /proc), nothing mounted (nomountns.ts).
  const mountns = hasNs(ns, CLONE.NEWNS, 'mount');
  const chroot = mountns ? [] : noMountNsOps(spec, opts.bundle);
  if (mountns) append(
    ops,
    rootfsOps({
      spec,
      bundle: opts.bundle,
      userns: ns.userns,
      netns: hasNs(ns, CLONE.NEWNET, 'network'),
      cgroupns: hasNs(ns, CLONE.NEWCGROUP, 'cgroup'),
      rootless: opts.host.rootless,
      noPivot: opts.noPivot,
      cgroupVersion: opts.host.cgroupVersion,
      cgroupV1: opts.cgroupV1,
      treeSources: opts.treeSources,
      // Set only for a namespace launch creates: a joined one's mappings are not known here.
      ids: idmap,
      notes,
    }, slots),
  );
  if (mountns) insertBefore(ops, ['PIVOT'], createHookOps(spec, opts));
  if (spec.hostname !== undefined && spec.hostname !== '') {
    requireNs(ns, CLONE.NEWUTS, 'uts', 'hostname');
    ops.push({ op: 'SETHOSTNAME', args: [spec.hostname], origin: { configPath: 'hostname', what: `set hostname to \`${spec.hostname}\`` } });
  }
  if (spec.domainname !== undefined && spec.domainname !== '') {
    requireNs(ns, CLONE.NEWUTS, 'uts', 'domainname');
    ops.push({ op: 'SETDOMAINNAME', args: [spec.domainname], origin: { configPath: 'domainname', what: `set domainname to \`${spec.domainname}\`` } });
  }
  if (!mountns) append(ops, [...createHookOps(spec, opts), ...chroot]);
  append(ops, terminalOps(spec.process, mountns));
  if (mountns) {
    append(ops, finalizeRootfsOps(spec, slots));
    append(ops, rootPropagationOps(spec));
  }
  const plan: Plan = { ops, cloneFlags: ns.cloneFlags, notes };
  const proc = processOps(spec.process, { ...opts, seccompOp: seccompOp(linux.seccomp, opts.seccomp, plan) }, idmap, notes);
  // startContainer: after `start` (right after WAIT_START and the filter: `launch start` counts
  // the ops of the errors it reads from there) and before the exec, as runc's init.
  insertBefore(proc, ['EXEC'], containerHookOps(spec, 'startContainer', opts));
  append(ops, proc);
  checkSize(ops, spec);
  if (ns.pidnsPath) plan.pidnsPath = ns.pidnsPath;
  if (idmap) plan.idmap = idmap;
  if (spec.process?.oomScoreAdj !== undefined) plan.oomScoreAdj = spec.process.oomScoreAdj;
  return plan;
}

export interface ExecPlanOptions {
  host: HostFacts;
  /** The container init's namespaces that differ from ours, to join: `path` is what the child
   * opens (/proc/self/fd/N of a fd launch holds), `file` what an error names. */
  joins: { type: string; path: string; file: string }[];
  dieWithParent?: boolean;
  /** The joined user namespace's maps: the process's ids must be mapped there. */
  idmap?: IdMap;
  /** Fds 3..3+N-1 stay open for the program (--preserve-fds). */
  preserveFds?: number;
  /** The container's session keyring to join (`_ses.<id>`), as runc exec. */
  sessionKeyring?: string;
  /** A container without a mount namespace of its own: its init's root (/proc/self/fd/N of a
   * directory fd launch holds), chroot'ed into after the joins. */
  chroot?: { path: string; file: string };
  /** The container's linux.seccomp: an exec'd process is confined as its init is (runc). */
  seccompConfig?: Seccomp;
  seccomp?: SeccompCompiler;
  execImage?: Uint8Array;
}

/** `launch exec`: a new process in a running container's namespaces, as runc exec. Nothing
 * is created or mounted; the container's root, hostname and sysctls are already in place. */
export function buildExecPlan(proc: NonNullable<Spec['process']>, opts: ExecPlanOptions): Plan {
  const notes: string[] = [];
  const ops: Op[] = [];
  if (proc.oomScoreAdj !== undefined) {
    // Written by the process itself, first, while every namespace is still launch's (runc's
    // nsexec does the same). The parent wrote it at the cgroup sync, and rootless that needed
    // the child dumpable there, in the container's user and pid namespaces: a container
    // process with CAP_SYS_PTRACE attached to it then and kept it (CVE-2016-9962's kind).
    // Rootless, the child is dumpable for this write only: not yet visible to the container.
    const file = '/proc/self/oom_score_adj';
    ops.push({
      op: 'WRITE_FILE',
      args: [file, String(proc.oomScoreAdj)],
      ...(opts.host.rootless ? { flags: OPF.DUMPABLE } : {}),
      origin: { configPath: 'process.oomScoreAdj', what: `write \`${proc.oomScoreAdj}\` to`, file },
    });
  }
  const join = (j: ExecPlanOptions['joins'][number]) =>
    ops.push({ op: 'SETNS', args: [j.path, NS_FLAG[j.type]!], origin: { what: `join the container's ${j.type} namespace via`, file: j.file } });
  const joins = [...opts.joins].sort((a, b) => JOIN_ORDER.indexOf(a.type) - JOIN_ORDER.indexOf(b.type));
  // The user namespace first: it grants the rights to join the others.
  for (const j of joins.filter((j) => j.type === 'user')) join(j);
  // setns to a pid namespace places only the children made afterwards: the process itself
  // stays out of it until FORK_INIT below. Joined here, while /proc/self/fd is the host's.
  const pid = joins.find((j) => j.type === 'pid');
  if (pid) join(pid);
  // Before the container's mount namespace is joined: the host's /proc is ours until then.
  append(ops, lsmOps(proc, opts.host.lsm));
  for (const j of joins.filter((j) => j.type !== 'user' && j.type !== 'pid')) join(j);
  if (opts.chroot) ops.push({ op: 'CHROOT', args: [opts.chroot.path], origin: { what: "chroot into the container's root", file: opts.chroot.file } });
  // Only now into the container's pid namespace (as runc's nsexec: every setns in stage 1,
  // the fork in stage 2): from there on its processes see this one, and with CAP_SYS_PTRACE
  // where it counts (root without a user namespace) no dumpable bit keeps them out of its
  // /proc/<pid>/root, cwd and fds (ptrace(2), access mode checking). Forked before the
  // mount namespace and root were the container's, it gave them the host's / (CVE-2016-9962).
  if (pid) ops.push({ op: 'FORK_INIT', args: [opts.dieWithParent ? 9 : 0], origin: { what: 'fork into the container\'s pid namespace' } });
  // The parent moves the process into the container's cgroup meanwhile (joining a cgroup
  // namespace does not depend on the cgroup of the process: its root is the namespace's).
  ops.push({ op: 'SYNC', args: [STAGE.USERMAP], origin: { what: 'wait to be placed in the container\'s cgroup' } });
  // The container's /dev/console stays as the container made it, as runc exec leaves it.
  append(ops, terminalOps(proc, false));
  const plan: Plan = { ops, cloneFlags: 0, notes };
  append(ops, processOps(proc, { ...opts, seccompOp: seccompOp(opts.seccompConfig, opts.seccomp, plan) }, opts.idmap, notes));
  return plan;
}

/** A helper process of launch's own (rootless image unpacking, removing what it unpacked) in
 * a new user namespace with `idmap`, as root there: so it may chown files to every mapped id,
 * as podman's `unshare` does. No other namespace, no mounts: it works on host paths. */
export function buildUsernsPlan(proc: NonNullable<Spec['process']>, opts: { host: HostFacts; idmap: IdMap }): Plan {
  const notes: string[] = [];
  const ops: Op[] = [{ op: 'SYNC', args: [STAGE.USERMAP], ...procWrites(opts.host, true, proc), origin: { what: 'wait for the id mappings' } }];
  append(ops, processOps(proc, { host: opts.host, dieWithParent: true }, opts.idmap, notes));
  return { ops, cloneFlags: CLONE.NEWUSER, notes, idmap: opts.idmap };
}
