// The container's cgroup on the host, cgroupfs driver: where it goes (linux.cgroupsPath, as
// runc: relative paths are below launch's own cgroup on v1 and below its parent on v2, the
// default is the container id; rootless only in a subtree delegated to the user), its
// creation, the limits, moving the container's init in, and removal.
// Runs in the launch process, before the child is released from its first sync.
import { accessSync, constants, existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, isAbsolute, join, posix } from 'node:path';
import { fromNodeError, hostError, specError } from '../errors.js';
import { native } from '../runtime/native.js';
import type { Spec } from '../spec/schema.js';
import { applyWrites, writeCgroupFile } from './apply.js';
import { DEFAULT_DEVICE_RULES, deviceFilterProgram } from './devicefilter.js';
import { type CgroupWrite, v1Writes, v2Writes } from './values.js';

export interface CgroupPlan {
  version: 1 | 2;
  /** controller -> directory (v2: '' -> the directory), for the state file. */
  dirs: Record<string, string>;
  /** Directories to create, parents first, and to remove, children first. */
  created: string[];
  /** v1: controller -> directory; v2: every controller -> the one directory. */
  dirFor: (controller: string) => string;
  /** The directories the init joins (one per v1 hierarchy, one on v2). */
  joins: string[];
  writes: CgroupWrite[];
  /** v2: the parent of created[i] (same index), whose offered controllers are all enabled. */
  enable: string[];
  /** v2 as root: linux.resources.devices (with runc's defaults) as the eBPF program to attach. */
  deviceFilter?: Buffer;
}

export interface CgroupHost {
  uid: number;
  version: 1 | 2;
  /** /sys/fs/cgroup, or a temporary directory in tests. */
  mount: string;
  /** The contents of /proc/self/cgroup. */
  selfCgroup: string;
  /** Not root of the initial user namespace (HostFacts.rootless); default: uid !== 0. */
  rootless?: boolean;
  /** Run without the limits rather than fail when they cannot be applied (rootless). */
  ignoreLimits?: boolean;
  /** access(W_OK) by default; tests stand in for the kernel's permission check. */
  writable?: (path: string) => boolean;
}

interface SelfCgroupLine {
  /** "memory", "cpu,cpuacct", "name=systemd"; "" for v2. */
  hierarchy: string;
  controllers: string[];
  path: string;
}

/** The lines of /proc/self/cgroup. */
function selfCgroupLines(text: string): SelfCgroupLine[] {
  const out: SelfCgroupLine[] = [];
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line.trim());
    if (m) out.push({ hierarchy: m[1]!, controllers: m[1]!.split(','), path: m[2]! });
  }
  return out;
}

/** Own cgroup per v1 controller ("memory" -> "/a/b"), or "" -> path on v2. */
export function parseSelfCgroup(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const l of selfCgroupLines(text)) for (const c of l.controllers) out.set(c, l.path);
  return out;
}

function cgroupPath(spec: Spec, id: string, own: string): string {
  const given = spec.linux?.cgroupsPath;
  if (given !== undefined && given.includes(':')) {
    throw specError('systemd-style `slice:prefix:name` needs --systemd-cgroup', { configPath: 'linux.cgroupsPath' });
  }
  const path = given || id;
  // `..` is refused before joining: a relative path must not climb out of launch's own
  // cgroup (which may belong to the machine's infrastructure).
  const norm = posix.normalize(isAbsolute(path) ? path : posix.join(own, path));
  if (path.split('/').includes('..') || norm === '/') {
    throw specError(`\`${given}\` leaves the cgroup tree or is its root`, { configPath: 'linux.cgroupsPath' });
  }
  return norm;
}

/** Whether `resources` asks for anything at all (runc runs rootless without a cgroup then). */
export function wantsLimits(spec: Spec, version: 1 | 2): boolean {
  const r = spec.linux?.resources;
  if (!r) return false;
  // A limit v2 cannot apply is still a limit asked for (and v2Writes would refuse it here,
  // before --ignore-cgroup-limits could drop it).
  if (version === 2 && r.memory?.kernelTCP) return true;
  const writes = version === 1 ? v1Writes(r) : v2Writes(r);
  return writes.some((w) => w.controller !== 'devices');
}

/** Whether this user may make cgroups at `dir` and move processes in: the nearest existing
 * directory on its way is writable (a subtree delegated to the user, as systemd's
 * user@UID.service is), and so is `cgroup.procs` if `dir` already exists. */
function delegatedTo(dir: string, writable: (path: string) => boolean): boolean {
  let d = dir;
  while (!existsSync(d)) d = dirname(d);
  return writable(d === dir ? join(d, 'cgroup.procs') : d);
}

function canWrite(path: string): boolean {
  try {
    accessSync(path, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Where the container's cgroup goes and what is written there; undefined when it gets none. */
export function planCgroup(spec: Spec, id: string, host: CgroupHost): CgroupPlan | undefined {
  const resources = spec.linux?.resources ?? {};
  const own = parseSelfCgroup(host.selfCgroup);
  const rootless = host.rootless ?? host.uid !== 0;
  const refuse = (why: string): undefined => {
    // As runc: without limits a rootless container simply runs without a cgroup of its own.
    if (!wantsLimits(spec, host.version) || host.ignoreLimits) return undefined;
    throw specError(`limits cannot be applied: ${why} (or run with --ignore-cgroup-limits)`, { configPath: 'linux.resources' });
  };
  if (rootless && host.version === 1) return refuse('cgroup v1 cannot be delegated to an ordinary user; run as root');
  if (host.version === 2) {
    // As runc on v2: a relative path is below the *parent* of launch's own cgroup, since launch's
    // own holds processes (launch, the shell) and so cannot enable controllers for a child.
    const path = cgroupPath(spec, id, posix.dirname(own.get('') ?? '/'));
    const dir = join(host.mount, path);
    if (rootless && !delegatedTo(dir, host.writable ?? canWrite)) {
      return refuse(`the cgroup ${dir} is not delegated to uid ${host.uid} (cgroup v2: run from a subtree the user owns, such as systemd's user@${host.uid}.service, or as root)`);
    }
    const writes = v2Writes(resources);
    const created: string[] = [];
    const enable: string[] = [];
    const parts = path.split('/').filter(Boolean);
    for (let i = 0; i < parts.length; i++) {
      enable.push(join(host.mount, ...parts.slice(0, i)));
      created.push(join(host.mount, ...parts.slice(0, i + 1)));
    }
    return { version: 2, dirs: { '': dir }, created, dirFor: () => dir, joins: [dir], writes, enable, ...(resources.devices && !rootless ? { deviceFilter: deviceFilterProgram(resources.devices) } : {}) };
  }
  const writes = v1Writes(resources);
  if (writes.some((w) => w.controller === 'devices')) {
    for (const rule of DEFAULT_DEVICE_RULES) writes.push({ controller: 'devices', file: 'devices.allow', value: rule, configPath: 'linux.resources.devices' });
  }
  const dirs = new Map<string, string>();
  const created: string[] = [];
  // Every mounted hierarchy, as runc: the container is accounted everywhere, limited where asked.
  for (const [controller, ownPath] of own) {
    if (controller === '' || controller.startsWith('name=')) continue;
    const mount = join(host.mount, controller);
    if (!existsSync(mount)) continue;
    const dir = join(mount, cgroupPath(spec, id, ownPath));
    dirs.set(controller, dir);
    created.push(dir);
  }
  for (const w of writes) {
    if (!dirs.has(w.controller)) throw specError(`needs the \`${w.controller}\` cgroup controller, which this host does not mount`, { configPath: w.configPath });
  }
  return { version: 1, dirs: Object.fromEntries(dirs), created, dirFor: (c) => dirs.get(c)!, joins: [...new Set(dirs.values())], writes, enable: [] };
}

function mkdirQuiet(dir: string): boolean {
  for (let attempt = 0; ; attempt++) {
    try {
      mkdirSync(dir);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST') return false;
      // A parent removed under us by a container that just ended: make it again.
      if (code === 'ENOENT' && attempt < 3) {
        mkdirQuiet(dirname(dir));
        continue;
      }
      throw err;
    }
  }
}

/** The directories of `plan` that do not exist yet, parents first: what launch will make. */
export function missingDirs(plan: CgroupPlan): string[] {
  const out: string[] = [];
  for (const dir of plan.created) {
    const missing: string[] = [];
    for (let d = dir; !existsSync(d) && !out.includes(d); d = dirname(d)) missing.unshift(d);
    out.push(...missing);
  }
  return out;
}

/** Create the directories and write the limits; returns the directories this call made,
 * parents first (the only ones launch may remove). `record` is told them before the first
 * mkdir (so that a launch killed midway leaves a list for `delete --force`) and again, exactly,
 * at the end. On failure, removes what it created. */
export function createCgroup(plan: CgroupPlan, record: (dirs: readonly string[]) => void = () => {}): string[] {
  const made: string[] = [];
  record(missingDirs(plan));
  try {
    for (const [i, dir] of plan.created.entries()) {
      // v2: a controller must be enabled in the parent before the child can use it, so the
      // parent (created just before, or already there) is set up first.
      const parent = plan.enable[i];
      if (parent !== undefined) {
        // Every controller the parent offers, as runc: `update` may set a limit the config
        // did not, and a controller cannot be enabled once the cgroup has processes.
        const wanted = readFileSync(join(parent, 'cgroup.controllers'), 'utf8').split(/\s+/).filter(Boolean);
        // As runc: a parent that holds processes (launch's own cgroup, often) refuses with
        // EBUSY, and a delegated subtree may lack some; then each alone, errors ignored. A
        // limit whose controller stayed off fails at its own write, naming the file.
        const file = join(parent, 'cgroup.subtree_control');
        try {
          if (wanted.length) writeCgroupFile(file, wanted.map((c) => `+${c}`).join(' '));
        } catch {
          for (const c of wanted) {
            try {
              writeCgroupFile(file, `+${c}`);
            } catch {
              /* see above */
            }
          }
        }
      }
      // Missing ancestors too (an absolute cgroupsPath like /launch-test/<id>), top down.
      const missing: string[] = [];
      for (let d = dir; !existsSync(d); d = dirname(d)) missing.unshift(d);
      // A directory that was there already is not launch's, whoever made it (the admin, another
      // container, a launch that was killed): a cgroupsPath naming a shared cgroup must not
      // make `delete` remove it, nor a v2 path's existing ancestors.
      for (const d of missing) {
        // Another container may make (EEXIST) or remove a shared parent at the same time.
        if (!mkdirQuiet(d)) continue;
        made.push(d);
      }
      if (plan.version === 1 && dir.includes('/cpuset/')) fillCpusets(dir);
    }
    applyWrites(plan.dirFor, plan.writes);
    // After the writes, as runc; before the container joins, so it never runs unfiltered.
    if (plan.deviceFilter) attachDeviceFilter(plan.dirFor('devices'), plan.deviceFilter);
    record(made);
  } catch (err) {
    removeDirs(made);
    if (err instanceof Error && err.name === 'LaunchError') throw err;
    throw fromNodeError('host', 'cannot create the container\'s cgroup', err, { configPath: 'linux.cgroupsPath', file: plan.created[0] });
  }
  return made;
}

/** A new v1 cpuset is empty, and an empty cpuset takes no task: each one from the hierarchy's
 * root down to `leaf` inherits its parent's CPUs and memory nodes. Top down, and for every
 * level, not only the ones made now: a launch killed between a mkdir and these writes leaves
 * an empty one behind, in which every later container would fail (ENOSPC). */
function fillCpusets(leaf: string): void {
  const at = leaf.indexOf('/cpuset/') + '/cpuset'.length;
  const parts = leaf.slice(at + 1).split('/');
  for (let i = 1; i <= parts.length; i++) {
    const d = `${leaf.slice(0, at)}/${parts.slice(0, i).join('/')}`;
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const mine = readFileSync(join(d, f), 'utf8').trim();
      if (!mine) writeCgroupFile(join(d, f), readFileSync(join(d, '..', f), 'utf8').trim());
    }
  }
}

/** cgroup v2: make `insns` (devicefilter.ts) the device filter of `dir`, replacing any. */
export function attachDeviceFilter(dir: string, insns: Buffer): void {
  const addon = native();
  try {
    addon.attachDeviceFilter(dir, insns);
  } catch (err) {
    const e = err as { errno?: number; syscall?: string; log?: string };
    const init = { configPath: 'linux.resources.devices', file: dir, errno: e.errno, syscall: e.syscall, cause: err };
    // Root in a user namespace, or a host whose seccomp/LSM forbids bpf(2).
    if (e.syscall === 'bpf(BPF_PROG_LOAD)' && e.errno === osConstants.errno.EPERM) {
      throw hostError('cannot load the eBPF device filter (bpf(2) needs CAP_BPF or CAP_SYS_ADMIN outside any user namespace) for', init);
    }
    if (e.log !== undefined) throw hostError('the kernel\'s verifier refused the eBPF device filter (a bug in launch; --debug shows its log) for', init);
    throw fromNodeError('host', 'cannot attach the eBPF device filter to', err, init);
  }
}

export function joinCgroup(plan: CgroupPlan, pid: number): void {
  for (const dir of plan.joins) {
    try {
      writeCgroupFile(join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      throw fromNodeError('host', 'cannot move the container into', err, { configPath: 'linux.cgroupsPath', file: dir });
    }
  }
}

/** What `delete` removes of a container's cgroups (lib/lifecycle/delete.ts, and the native front's
 * record): of the directories launch made, the container's own, then the parents made for
 * them, each in the order made (parents first). States from before `created` hold only `dirs`,
 * all launch's; a cgroupsPath may name a cgroup that was there before, not launch's to remove. */
export function madeDirs(cg: { dirs: Record<string, string>; created?: string[] } | undefined): { own: string[]; parents: string[] } {
  const made = cg?.created ?? Object.values(cg?.dirs ?? {});
  const own = new Set(Object.values(cg?.dirs ?? {}));
  return { own: made.filter((d) => own.has(d)), parents: made.filter((d) => !own.has(d)) };
}

/** Remove the directories launch made, deepest first. Best effort: a cgroup with a process
 * left in it (EBUSY) stays, and is reported by the caller's `--debug`. */
export function removeDirs(dirs: readonly string[], own: readonly string[] = []): string[] {
  const left: string[] = [];
  for (const dir of [...dirs].reverse()) {
    try {
      // A container with a cgroup namespace and a writable cgroupfs may make cgroups below its
      // own; v1 refuses to rmdir a cgroup with children (EBUSY), which left the container's
      // cgroup, and its state, for ever. Below the container's own cgroups (never a shared one
      // or a parent launch made, where the cgroups below are others'), they go first.
      if (own.includes(dir)) removeBelow(dir);
      rmdirSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
    }
  }
  return left;
}

/** Every cgroup below `dir`, each after those below it (the order rmdir needs). A container
 * with a cgroup namespace and a writable cgroupfs may make these. Directories only (lstat's
 * answer: a symlink is not followed); one that cannot be read is a leaf. */
export function cgroupsBelow(dir: string, depth = 0): string[] {
  if (depth > 64) return [];
  let entries;
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.filter((e) => e.isDirectory()).flatMap((e) => {
    const sub = join(dir, e.name);
    return [...cgroupsBelow(sub, depth + 1), sub];
  });
}

/** rmdir every cgroup below `dir`, deepest first; errors are left for the rmdir of `dir` to
 * report. */
function removeBelow(dir: string): void {
  for (const sub of cgroupsBelow(dir)) {
    try {
      rmdirSync(sub);
    } catch {
      /* busy: the rmdir of `dir` says so */
    }
  }
}

export interface V1Hierarchy {
  /** Directory name under /sys/fs/cgroup ("memory", "cpu,cpuacct", "systemd"). */
  name: string;
  /** The host directory the container sees as that hierarchy's root. */
  hostDir: string;
  /** Controller names that get a symlink to `name` ("cpu" -> "cpu,cpuacct"). */
  links: string[];
}

/** What a `cgroup` mount shows inside on a v1 host: in each hierarchy, the container's own
 * cgroup (or launch's, when the container has none) as its root, as runc mounts it. */
export function v1Hierarchies(selfCgroup: string, plan: CgroupPlan | undefined, mount: string): V1Hierarchy[] {
  const out: V1Hierarchy[] = [];
  for (const { hierarchy, controllers, path } of selfCgroupLines(selfCgroup)) {
    if (hierarchy === '') continue; // the v2 line of a hybrid host
    const name = hierarchy.startsWith('name=') ? hierarchy.slice(5) : hierarchy;
    if (!existsSync(join(mount, name))) continue;
    const mine = plan?.version === 1 ? plan.dirs[controllers[0]!] : undefined;
    out.push({ name, hostDir: mine ?? join(mount, name, path), links: controllers.length > 1 ? controllers.filter((c) => c !== name) : [] });
  }
  return out;
}
