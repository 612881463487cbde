// The root filesystem part of a plan: mounts, devices, pivot_root, masked and read-only paths.
// Pure apart from stat() of bind sources on the host (to know file from directory, and to
// report a missing source before anything is cloned).
import { statSync } from 'node:fs';
import { isAbsolute, posix, resolve } from 'node:path';
import { specError } from '../errors.js';
import { nodeErrno } from '../errors.js';
import type { Spec } from '../spec/schema.js';
import { MOUNT_ATTR, MS, parseMountOptions } from './mountopts.js';
import { ACC, deviceAllowed, deviceRules, emulate } from '../cgroups/devicefilter.js';
import { OPF, type Op } from './ops.js';
import { adaptOwnerOptions, type ContainerIds } from './ownerids.js';

export interface RootfsContext {
  spec: Spec;
  bundle: string;
  /** The container has a user namespace: devices are bind-mounted, not created. */
  userns: boolean;
  /** The container has a network namespace of its own (sysfs can be mounted rootless). */
  netns: boolean;
  /** The container has a cgroup namespace of its own (cgroup2 can be mounted rootless). */
  cgroupns: boolean;
  rootless: boolean;
  /** --no-pivot: MS_MOVE + chroot instead of pivot_root. */
  noPivot?: boolean;
  cgroupVersion: 1 | 2;
  /** v1: what a `cgroup` mount shows (lib/cgroups/manager.ts v1Hierarchies). */
  cgroupV1?: readonly { name: string; hostDir: string; links: string[] }[];
  /** Bind sources that are /proc/self/fd/N of detached trees launch opened (OPF.TREE). */
  treeSources?: ReadonlySet<string>;
  /** The new user namespace's mappings: mount options naming ids it lacks are adapted
   * (ownerids.ts). Unset without a user namespace or when one is joined. */
  ids?: ContainerIds;
  /** Receives --debug notes on what was adapted. */
  notes?: string[];
}

const S_IFCHR = 0o020000;
const S_IFBLK = 0o060000;
const S_IFIFO = 0o010000;

// The devices every container gets (runtime-spec config-linux.md "Default Devices").
const DEFAULT_DEVICES = [
  { path: '/dev/null', major: 1, minor: 3 },
  { path: '/dev/zero', major: 1, minor: 5 },
  { path: '/dev/full', major: 1, minor: 7 },
  { path: '/dev/random', major: 1, minor: 8 },
  { path: '/dev/urandom', major: 1, minor: 9 },
  { path: '/dev/tty', major: 5, minor: 0 },
];

const PROPAGATION: Record<string, number> = {
  shared: MS.SHARED, slave: MS.SLAVE, private: MS.PRIVATE, unbindable: MS.UNBINDABLE,
  rshared: MS.SHARED | MS.REC, rslave: MS.SLAVE | MS.REC, rprivate: MS.PRIVATE | MS.REC,
  runbindable: MS.UNBINDABLE | MS.REC,
};

/** glibc's makedev(3) encoding of a dev_t. */
export function makedev(major: number, minor: number): bigint {
  const ma = BigInt(major);
  const mi = BigInt(minor);
  return (mi & 0xffn) | ((ma & 0xfffn) << 8n) | ((mi & ~0xffn) << 12n) | ((ma & ~0xfffn) << 32n);
}

export function rootfsPath(spec: Spec, bundle: string): string {
  return resolve(bundle, spec.root?.path ?? 'rootfs');
}

/** rootfsPath, refused with `root.path` unless it is a directory. */
export function existingRootfs(spec: Spec, bundle: string): string {
  const root = rootfsPath(spec, bundle);
  try {
    if (!statSync(root).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
  } catch (err) {
    throw specError('root filesystem is missing', { configPath: 'root.path', file: root, errno: nodeErrno(err), cause: err });
  }
  return root;
}

function statKind(path: string, configPath: string): 'dir' | 'file' {
  try {
    return statSync(path).isDirectory() ? 'dir' : 'file';
  } catch (err) {
    throw specError('bind source does not exist', { configPath, file: path, errno: nodeErrno(err), cause: err });
  }
}

// Filesystems the kernel makes for the container (not the host's files): mounted with
// fsopen/fsmount on a directory reached without any symlink (MOUNT_FS, addon/child/mountfd.c).
const KERNEL_FS = new Set(['proc', 'sysfs', 'mqueue', 'devpts']);
// Of those, the ones whose masked and read-only paths are opened beneath the mount's own fd.
const SLOTTED_FS = new Set(['proc', 'sysfs']);
const MOUNT_SLOTS = 8; // LP_MOUNT_SLOTS in addon/common/plan.h

// What runc lets a config mount inside /proc (lxcfs and the like), and nothing else: a mount
// there could hide a masked or read-only path, or put host data where proc's should be.
const PROC_MOUNTS_ALLOWED = new Set([
  '/proc/cpuinfo', '/proc/diskstats', '/proc/meminfo', '/proc/stat', '/proc/swaps', '/proc/uptime',
  '/proc/loadavg', '/proc/slabinfo', '/proc/net/dev', '/proc/sys/kernel/ns_last_pid',
]);

const under = (path: string, dir: string) => path === dir || path.startsWith(dir === '/' ? '/' : `${dir}/`);

/** Where proc and sysfs are mounted (MOUNT_FS slots): later steps under them use the mount's fd. */
export type MountSlots = Map<string, number>;

function checkProcDestination(dest: string, type: string, procDests: readonly string[], configPath: string): void {
  for (const proc of ['/proc', ...procDests]) {
    if (!under(dest, proc)) continue;
    if (dest === proc ? type === 'proc' : PROC_MOUNTS_ALLOWED.has(dest.replace(proc, '/proc'))) return;
    throw specError(`\`${dest}\` is inside /proc: only proc itself, or a file of ${[...PROC_MOUNTS_ALLOWED].join(', ')}, may be mounted there`, {
      configPath: `${configPath}.destination`,
    });
  }
}

function mountOps(ctx: RootfsContext, slots: MountSlots): Op[] {
  const ops: Op[] = [];
  const procDests: string[] = [];
  let nextSlot = 1;
  (ctx.spec.mounts ?? []).forEach((m, i) => {
    const configPath = `mounts[${i}]`;
    const dest = posix.normalize(m.destination);
    checkProcDestination(dest, m.type ?? '', procDests, configPath);
    // A later mount over (or above) a slotted one hides it: paths there are the new mount's.
    for (const d of [...slots.keys()]) if (under(d, dest)) slots.delete(d);
    let type = m.type ?? '';
    let source = m.source ?? type;
    const opts = parseMountOptions(m.options ?? []);
    if (opts.unsupported.length > 0) {
      throw specError(`mount option \`${opts.unsupported[0]}\` is not supported yet`, { configPath: `${configPath}.options` });
    }
    let flags = opts.flags;
    const recursive = { ...opts.recursive };
    const isBind = (flags & MS.BIND) !== 0 || type === 'bind';
    // Without a network namespace of its own, a user namespace cannot mount sysfs; and a
    // cgroup v1 hierarchy cannot be mounted from a user namespace at all. Bind the host's.
    if (type === 'sysfs' && ctx.userns && !ctx.netns) {
      type = 'bind';
      source = '/sys';
      flags |= MS.BIND | MS.REC | MS.NOSUID | MS.NODEV | MS.NOEXEC;
    } else if (type === 'cgroup' || type === 'cgroup2') {
      if (ctx.cgroupVersion === 2 && ctx.userns && !ctx.cgroupns) {
        // Mounting cgroup2 from a user namespace needs a cgroup namespace it owns; without
        // one, runc binds the host's tree instead, read-only all the way down: so do we.
        type = 'bind';
        source = '/sys/fs/cgroup';
        flags |= MS.BIND | MS.REC;
        if (flags & MS.RDONLY) recursive.set |= MOUNT_ATTR.RDONLY;
      } else if (ctx.cgroupVersion === 2) type = 'cgroup2';
      else {
        ops.push(...cgroupV1Ops(ctx, dest, flags, configPath));
        return;
      }
    }
    const data = isBind || type === 'bind' ? opts.data : adaptOwnerOptions(type, opts.data, ctx.ids, configPath, ctx.notes ?? []);
    if (isBind || type === 'bind') {
      flags |= MS.BIND;
      const src = isAbsolute(source) ? source : resolve(ctx.bundle, source);
      const kind = statKind(src, `${configPath}.source`);
      ops.push({
        op: 'MOUNT',
        args: [src, dest, null, flags, null, opts.propagation],
        flags: (kind === 'dir' ? OPF.MKDIR : OPF.MKFILE) | (ctx.treeSources?.has(src) ? OPF.TREE : 0),
        origin: { configPath, what: `bind mount \`${src}\` on`, file: dest },
      });
    } else if (KERNEL_FS.has(type)) {
      let slot = 0;
      if (SLOTTED_FS.has(type)) {
        if (nextSlot > MOUNT_SLOTS) throw specError(`more than ${MOUNT_SLOTS} proc and sysfs mounts`, { configPath });
        slot = nextSlot++;
        slots.set(dest, slot);
      }
      if (type === 'proc') procDests.push(dest);
      ops.push({
        op: 'MOUNT_FS',
        args: [dest, type, data.length ? data.join(',') : null, flags, opts.propagation, slot],
        flags: OPF.MKDIR,
        origin: { configPath, what: `mount \`${type}\` on`, file: dest },
      });
    } else {
      ops.push({
        op: 'MOUNT',
        args: [source, dest, type, flags, data.length ? data.join(',') : null, opts.propagation],
        flags: OPF.MKDIR,
        origin: { configPath, what: `mount \`${type}\` on`, file: dest },
      });
    }
    if (recursive.set || recursive.clear) {
      ops.push({
        op: 'MOUNT_SETATTR',
        args: [dest, recursive.set, recursive.clear, 1],
        origin: { configPath: `${configPath}.options`, what: 'set recursive mount attributes on', file: dest },
      });
    }
  });
  return ops;
}

// A v1 `cgroup` mount, as runc: a tmpfs with each hierarchy's subtree of the container bound
// in (a user namespace may not mount v1 hierarchies, and a bind shows only the subtree), then
// everything made read-only at once unless `rw` was asked.
function cgroupV1Ops(ctx: RootfsContext, dest: string, flags: number, configPath: string): Op[] {
  const what = (w: string) => ({ configPath, what: w, file: dest });
  const ops: Op[] = [
    { op: 'MOUNT', args: ['tmpfs', dest, 'tmpfs', MS.NOSUID | MS.NODEV | MS.NOEXEC, 'mode=755', 0], flags: OPF.MKDIR, origin: what('mount `tmpfs` for the cgroup hierarchies on') },
  ];
  for (const h of ctx.cgroupV1 ?? []) {
    const target = posix.join(dest, h.name);
    ops.push({
      op: 'MOUNT',
      args: [h.hostDir, target, null, MS.BIND | MS.REC | MS.NOSUID | MS.NODEV | MS.NOEXEC, null, 0],
      flags: OPF.MKDIR,
      origin: { configPath, what: `bind mount \`${h.hostDir}\` on`, file: target },
    });
    for (const link of h.links) {
      ops.push({ op: 'SYMLINK', args: [h.name, posix.join(dest, link)], origin: { configPath, what: `create symlink \`${h.name}\` at`, file: posix.join(dest, link) } });
    }
  }
  if (flags & MS.RDONLY) ops.push({ op: 'MOUNT_SETATTR', args: [dest, MOUNT_ATTR.RDONLY, 0, 1], origin: what('make the cgroup hierarchies read-only at') });
  return ops;
}

function deviceOps(ctx: RootfsContext): Op[] {
  const mounts = ctx.spec.mounts ?? [];
  const devMount = mounts.find((m) => posix.normalize(m.destination) === '/dev');
  // runc leaves /dev alone when it is a bind of the host's.
  if (devMount && (devMount.type === 'bind' || (devMount.options ?? []).some((o) => o === 'bind' || o === 'rbind'))) {
    return [];
  }
  const ops: Op[] = [];
  const seen = new Set<string>();
  // Rootless, no cgroup can enforce linux.resources.devices (v1 has no delegation, v2 needs a
  // privileged eBPF program), but only the nodes launch binds in exist for the container
  // (it cannot mknod): so a device the rules deny is left out, and one they allow only for
  // reading is bound read-only.
  const rules = ctx.rootless && ctx.spec.linux?.resources?.devices ? emulate(deviceRules(ctx.spec.linux.resources.devices)) : undefined;
  const add = (path: string, type: string, major: number, minor: number, mode: number, configPath: string) => {
    if (seen.has(path)) return;
    seen.add(path);
    let readOnly = false;
    if (rules && (type === 'b' || type === 'c' || type === 'u')) {
      const t = type === 'b' ? 'b' : 'c';
      const writable = deviceAllowed(rules, t, major, minor, ACC.w);
      if (!writable && !deviceAllowed(rules, t, major, minor, ACC.r)) return;
      readOnly = !writable;
    }
    if (ctx.userns || ctx.rootless) {
      // mknod needs CAP_MKNOD in the initial user namespace: bind the host's node instead.
      ops.push({
        op: 'MOUNT',
        args: [path, path, null, MS.BIND | (readOnly ? MS.RDONLY : 0), null, 0],
        flags: OPF.MKFILE,
        origin: { configPath, what: `bind mount device \`${path}\` on`, file: path },
      });
    } else {
      const kind = type === 'b' ? S_IFBLK : type === 'p' ? S_IFIFO : S_IFCHR;
      ops.push({
        op: 'MKNOD',
        args: [path, kind | (mode & 0o7777), makedev(major, minor)],
        origin: { configPath, what: 'create device', file: path },
      });
    }
  };
  (ctx.spec.linux?.devices ?? []).forEach((d, i) =>
    add(d.path, d.type, d.major ?? 0, d.minor ?? 0, d.fileMode ?? 0o666, `linux.devices[${i}]`),
  );
  for (const d of DEFAULT_DEVICES) add(d.path, 'c', d.major, d.minor, 0o666, 'linux.devices');
  const links: [string, string][] = [
    ['/proc/self/fd', '/dev/fd'],
    ['/proc/self/fd/0', '/dev/stdin'],
    ['/proc/self/fd/1', '/dev/stdout'],
    ['/proc/self/fd/2', '/dev/stderr'],
  ];
  if (mounts.some((m) => posix.normalize(m.destination) === '/dev/pts')) links.push(['pts/ptmx', '/dev/ptmx']);
  for (const [target, path] of links) {
    ops.push({ op: 'SYMLINK', args: [target, path], origin: { what: `create symlink \`${target}\` at`, file: path } });
  }
  return ops;
}

/** launch's own annotation (`launch run --image`): root.path is a shared, read-only lower
 * layer, and the container writes to an overlay whose upper layer is a tmpfs mounted, in the
 * container's mount namespace only, on the empty directory the value names (relative to the
 * bundle). Nothing is written to the lower layer and nothing is left on the host at the end. */
export const ROOT_OVERLAY = 'run.launch.rootfs.overlay';

function overlayOps(ctx: RootfsContext, root: string): Op[] {
  const value = ctx.spec.annotations?.[ROOT_OVERLAY];
  if (value === undefined) return [];
  const configPath = `annotations["${ROOT_OVERLAY}"]`;
  const scratch = resolve(ctx.bundle, value);
  // overlayfs splits its options at commas and its lowerdir list at colons.
  for (const p of [root, scratch]) {
    if (/[,:\\]/.test(p)) throw specError('an overlay root cannot use a path with `,`, `:` or `\\` in it', { configPath, file: p });
  }
  statKind(scratch, configPath);
  const what = (w: string, file: string) => ({ configPath, what: w, file });
  return [
    { op: 'MOUNT', args: ['tmpfs', scratch, 'tmpfs', MS.NOSUID, 'mode=0755', 0], origin: what('mount the writable layer\'s `tmpfs` on', scratch) },
    { op: 'MKDIRS', args: [`${scratch}/upper`, 0o755], origin: what('create', `${scratch}/upper`) },
    { op: 'MKDIRS', args: [`${scratch}/work`, 0o755], origin: what('create', `${scratch}/work`) },
    {
      op: 'MOUNT',
      args: ['overlay', root, 'overlay', 0, `lowerdir=${root},upperdir=${scratch}/upper,workdir=${scratch}/work`, 0],
      origin: what('mount the overlay root on', root),
    },
  ];
}

/** Ops from making / non-shared up to and including pivot_root. `slots` receives where proc
 * and sysfs are mounted, for finalizeRootfsOps. */
export function rootfsOps(ctx: RootfsContext, slots: MountSlots = new Map()): Op[] {
  const root = existingRootfs(ctx.spec, ctx.bundle);
  rootPropagation(ctx.spec);
  const ops: Op[] = [
    // Slave (not private), whatever linux.rootfsPropagation says (that applies to the
    // container's / after pivot_root: rootPropagationOps): host mounts still reach the
    // container, nothing the container mounts leaks back, and the tree is not shared, which
    // pivot_root refuses (EINVAL), nor unbindable, which the bind of the root refuses.
    { op: 'MOUNT_ROOT_PROPAGATION', args: [MS.SLAVE | MS.REC], origin: { what: 'make the mount tree a slave of the host\'s' } },
    ...overlayOps(ctx, root),
    { op: 'ROOTFS', args: [root], origin: { configPath: 'root.path', what: 'bind mount the root filesystem', file: root } },
    // Devices and mount points get exactly the modes the config names (runc does the same);
    // the process's own umask is set just before exec.
    { op: 'UMASK', args: [0], origin: { what: 'clear the umask for setup' } },
    ...mountOps(ctx, slots),
    ...deviceOps(ctx),
    { op: 'PIVOT', args: [ctx.noPivot ? 1 : 0], origin: { configPath: 'root.path', what: ctx.noPivot ? 'move and chroot into' : 'pivot_root into', file: root } },
  ];
  return ops;
}

function rootPropagation(spec: Spec): number | undefined {
  const name = spec.linux?.rootfsPropagation;
  const propagation = name ? PROPAGATION[name] : undefined;
  if (name && propagation === undefined) throw specError(`unknown propagation \`${name}\``, { configPath: 'linux.rootfsPropagation' });
  return propagation;
}

/** linux.rootfsPropagation on the container's / (recursively for the r* values), as crun: the
 * last of the mount steps, after readonlyPaths, maskedPaths and root.readonly, whose binds an
 * unbindable tree would refuse. None without it: / stays the slave rootfsOps made it. */
export function rootPropagationOps(spec: Spec): Op[] {
  const propagation = rootPropagation(spec);
  if (propagation === undefined) return [];
  const name = spec.linux!.rootfsPropagation!;
  return [{ op: 'MOUNT_ROOT_PROPAGATION', args: [propagation], origin: { configPath: 'linux.rootfsPropagation', what: `make the root filesystem ${name}` } }];
}

/** The slot whose mount holds `path`, and the path beneath it (the deepest such mount). */
function slotOf(path: string, slots: MountSlots): { slot: number; rel: string } | undefined {
  let best: [string, number] | undefined;
  for (const [dest, slot] of slots) if (under(path, dest) && (!best || dest.length > best[0].length)) best = [dest, slot];
  if (!best) return undefined;
  const rel = posix.relative(best[0], path);
  return { slot: best[1], rel: rel || '.' };
}

/** Ops after pivot_root: readonlyPaths, maskedPaths, then root.readonly. A path
 * under proc or sysfs is opened beneath that mount's fd, without symlinks: never by looking
 * its whole path up again, which a swapped rootfs entry could send elsewhere. */
export function finalizeRootfsOps(spec: Spec, slots: MountSlots = new Map()): Op[] {
  const ops: Op[] = [];
  const step = (kind: 'READONLY' | 'MASK', p: string, configPath: string, what: string) => {
    const at = slotOf(posix.normalize(posix.join('/', p)), slots);
    if (at) ops.push({ op: `${kind}_AT`, args: [at.slot, at.rel], flags: OPF.OPTIONAL, origin: { configPath, what, file: p } });
    else ops.push({ op: kind, args: [p], flags: OPF.OPTIONAL, origin: { configPath, what, file: p } });
  };
  (spec.linux?.readonlyPaths ?? []).forEach((p, i) => step('READONLY', p, `linux.readonlyPaths[${i}]`, 'make read-only'));
  (spec.linux?.maskedPaths ?? []).forEach((p, i) => step('MASK', p, `linux.maskedPaths[${i}]`, 'mask'));
  if (spec.root?.readonly) {
    ops.push({ op: 'REMOUNT_ROOT_RO', args: [], origin: { configPath: 'root.readonly', what: 'remount the root filesystem read-only' } });
  }
  return ops;
}
