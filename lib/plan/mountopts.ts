// OCI mount options -> mount(2) flags, propagation and data, with runc's vocabulary.
// (runc: libcontainer/specconv parseMountOptions; mount(8) for the meanings.)

export const MS = {
  RDONLY: 1, NOSUID: 2, NODEV: 4, NOEXEC: 8, SYNCHRONOUS: 16, REMOUNT: 32, MANDLOCK: 64,
  DIRSYNC: 128, NOSYMFOLLOW: 256, NOATIME: 1024, NODIRATIME: 2048, BIND: 4096, MOVE: 8192,
  REC: 16384, SILENT: 32768, UNBINDABLE: 1 << 17, PRIVATE: 1 << 18, SLAVE: 1 << 19,
  SHARED: 1 << 20, RELATIME: 1 << 21, STRICTATIME: 1 << 24, LAZYTIME: 1 << 25,
} as const;

// [set, clear]: options that set a flag, and their opposites that clear it.
const FLAG_OPTIONS: Record<string, [set: boolean, flag: number]> = {
  ro: [true, MS.RDONLY], rw: [false, MS.RDONLY],
  nosuid: [true, MS.NOSUID], suid: [false, MS.NOSUID],
  nodev: [true, MS.NODEV], dev: [false, MS.NODEV],
  noexec: [true, MS.NOEXEC], exec: [false, MS.NOEXEC],
  sync: [true, MS.SYNCHRONOUS], async: [false, MS.SYNCHRONOUS],
  dirsync: [true, MS.DIRSYNC], remount: [true, MS.REMOUNT],
  mand: [true, MS.MANDLOCK], nomand: [false, MS.MANDLOCK],
  noatime: [true, MS.NOATIME], atime: [false, MS.NOATIME],
  nodiratime: [true, MS.NODIRATIME], diratime: [false, MS.NODIRATIME],
  relatime: [true, MS.RELATIME], norelatime: [false, MS.RELATIME],
  strictatime: [true, MS.STRICTATIME], nostrictatime: [false, MS.STRICTATIME],
  lazytime: [true, MS.LAZYTIME], nolazytime: [false, MS.LAZYTIME],
  nosymfollow: [true, MS.NOSYMFOLLOW], symfollow: [false, MS.NOSYMFOLLOW],
  bind: [true, MS.BIND], rbind: [true, MS.BIND | MS.REC],
};

const PROPAGATION: Record<string, number> = {
  private: MS.PRIVATE, rprivate: MS.PRIVATE | MS.REC,
  shared: MS.SHARED, rshared: MS.SHARED | MS.REC,
  slave: MS.SLAVE, rslave: MS.SLAVE | MS.REC,
  unbindable: MS.UNBINDABLE, runbindable: MS.UNBINDABLE | MS.REC,
};

// mount_setattr(2) attributes, for runc's recursive options (rro, rnosuid, ...).
export const MOUNT_ATTR = {
  RDONLY: 0x1, NOSUID: 0x2, NODEV: 0x4, NOEXEC: 0x8, _ATIME: 0x70, RELATIME: 0, NOATIME: 0x10,
  STRICTATIME: 0x20, NODIRATIME: 0x80, NOSYMFOLLOW: 0x200000,
} as const;

// [set?, attribute]; the atime options replace the whole _ATIME field.
const RECURSIVE_OPTIONS: Record<string, [set: boolean, attr: number]> = {
  rro: [true, MOUNT_ATTR.RDONLY], rrw: [false, MOUNT_ATTR.RDONLY],
  rnosuid: [true, MOUNT_ATTR.NOSUID], rsuid: [false, MOUNT_ATTR.NOSUID],
  rnodev: [true, MOUNT_ATTR.NODEV], rdev: [false, MOUNT_ATTR.NODEV],
  rnoexec: [true, MOUNT_ATTR.NOEXEC], rexec: [false, MOUNT_ATTR.NOEXEC],
  rnodiratime: [true, MOUNT_ATTR.NODIRATIME], rdiratime: [false, MOUNT_ATTR.NODIRATIME],
  rnosymfollow: [true, MOUNT_ATTR.NOSYMFOLLOW], rsymfollow: [false, MOUNT_ATTR.NOSYMFOLLOW],
};
const RECURSIVE_ATIME: Record<string, number> = {
  rrelatime: MOUNT_ATTR.RELATIME, rnoatime: MOUNT_ATTR.NOATIME, rstrictatime: MOUNT_ATTR.STRICTATIME,
};

// Options runc accepts that do not map to flags or data for the kernel.
const IGNORED = new Set(['tmpcopyup', 'defaults', 'nodefaults']);

/** Every option parseMountOptions understands (for `launch features`); data options such as
 * `mode=` or `size=` go to the filesystem as they are and are not listed, as in runc. */
export function knownMountOptions(): string[] {
  const names = [...Object.keys(FLAG_OPTIONS), ...Object.keys(PROPAGATION), ...Object.keys(RECURSIVE_OPTIONS), ...Object.keys(RECURSIVE_ATIME), ...IGNORED];
  return [...new Set(names)].sort();
}

export interface ParsedMountOptions {
  flags: number;
  propagation: number;
  data: string[];
  /** Options launch understands but cannot honour yet (idmap); the caller decides. */
  unsupported: string[];
  /** mount_setattr(AT_RECURSIVE) attributes to set and clear after the mount. */
  recursive: { set: number; clear: number };
}

export function parseMountOptions(options: readonly string[] = []): ParsedMountOptions {
  let flags = 0;
  let propagation = 0;
  const data: string[] = [];
  const unsupported: string[] = [];
  const recursive = { set: 0, clear: 0 };
  // Own keys only: `constructor` or `toString` must not find Object.prototype's.
  const own = <T>(table: Record<string, T>, key: string): T | undefined => (Object.hasOwn(table, key) ? table[key] : undefined);
  for (const opt of options) {
    const r = own(RECURSIVE_OPTIONS, opt);
    if (r) {
      if (r[0]) { recursive.set |= r[1]; recursive.clear &= ~r[1]; }
      else { recursive.clear |= r[1]; recursive.set &= ~r[1]; }
      continue;
    }
    const atime = own(RECURSIVE_ATIME, opt);
    if (atime !== undefined) {
      recursive.set = (recursive.set & ~MOUNT_ATTR._ATIME) | atime;
      recursive.clear |= MOUNT_ATTR._ATIME;
      continue;
    }
    const f = own(FLAG_OPTIONS, opt);
    if (f) {
      flags = f[0] ? flags | f[1] : flags & ~f[1];
      continue;
    }
    const p = own(PROPAGATION, opt);
    if (p !== undefined) {
      propagation |= p;
      continue;
    }
    if (IGNORED.has(opt)) continue;
    if (opt === 'idmap' || opt === 'ridmap') {
      unsupported.push(opt);
      continue;
    }
    data.push(opt);
  }
  return { flags, propagation, data, unsupported, recursive };
}

/** ro,nosuid,... for messages: mount flags by name. */
export function flagNames(flags: number): string {
  const names: string[] = [];
  for (const [name, [set, flag]] of Object.entries(FLAG_OPTIONS)) {
    if (set && name !== 'rbind' && name !== 'bind' && (flags & flag) === flag) names.push(name);
  }
  if (flags & MS.BIND) names.push(flags & MS.REC ? 'rbind' : 'bind');
  return names.join(',');
}
