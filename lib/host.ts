// What the plan needs to know about the host. Read on demand, never at import time.
import { accessSync, constants, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';

export interface IdRange { start: number; count: number }

export interface HostFacts {
  uid: number;
  gid: number;
  userName: string | undefined;
  /** Subordinate ranges from /etc/subuid and /etc/subgid for this user (by name or number). */
  subuid: IdRange[];
  subgid: IdRange[];
  newuidmap: string | undefined;
  newgidmap: string | undefined;
  capLastCap: number;
  cgroupVersion: 1 | 2;
  /** Not root of the initial user namespace: an ordinary user, or uid 0 inside a user
   * namespace (rootless podman runs the runtime in its own). Such a caller cannot mknod,
   * make cgroups outside a delegated subtree, or use /run/launch (runc decides the same way). */
  rootless: boolean;
  /** The Linux security modules a config may name (process.apparmorProfile, selinuxLabel). */
  lsm?: LsmFacts;
}

export interface LsmFacts {
  apparmor: boolean;
  selinux: boolean;
  /** Where a task asks for its next exec's AppArmor profile: the per-LSM file where the kernel
   * has one (5.8+, LSM stacking), else the shared one. */
  apparmorExec: string;
}

/** As runc: AppArmor counts when the module says it is enabled; SELinux when selinuxfs is
 * mounted. Two stats and a small read: cheap enough for every start. */
export function probeLsm(): LsmFacts {
  let apparmorExec = '/proc/thread-self/attr/exec';
  try {
    accessSync('/proc/self/attr/apparmor/exec');
    apparmorExec = '/proc/thread-self/attr/apparmor/exec';
  } catch {
    /* an older kernel: the shared file */
  }
  let selinux = false;
  try {
    accessSync('/sys/fs/selinux/enforce');
    selinux = true;
  } catch {
    selinux = false;
  }
  return { apparmor: readText('/sys/module/apparmor/parameters/enabled').startsWith('Y'), selinux, apparmorExec };
}

/** Whether this process runs in a user namespace other than the initial one: the initial
 * one maps every id (`0 0 4294967295`), as runc's userns.RunningInUserNS checks. */
export function inUserNamespace(uidMap = readText('/proc/self/uid_map')): boolean {
  const lines = uidMap.trim().split('\n').map((l) => l.trim().split(/\s+/).join(' '));
  return !(lines.length === 1 && lines[0] === '0 0 4294967295');
}

export function parseSubIds(text: string, user: string | undefined, uid: number): IdRange[] {
  const out: IdRange[] = [];
  for (const line of text.split('\n')) {
    const [name, start, count] = line.trim().split(':');
    if (!name || start === undefined || count === undefined) continue;
    if (name !== user && name !== String(uid)) continue;
    const s = Number(start);
    const c = Number(count);
    if (Number.isInteger(s) && Number.isInteger(c) && c > 0) out.push({ start: s, count: c });
  }
  return out;
}

/** A file's text, or '' when it cannot be read. */
export function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export function findExecutable(name: string): string | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin', '/usr/local/bin']) {
    try {
      accessSync(`${dir}/${name}`, constants.X_OK);
      return `${dir}/${name}`;
    } catch {
      /* next */
    }
  }
  return undefined;
}

export function probeHost(): HostFacts {
  const uid = process.getuid!();
  const gid = process.getgid!();
  let userName: string | undefined;
  try {
    userName = userInfo().username;
  } catch {
    userName = undefined; // a uid with no passwd entry
  }
  const last = Number.parseInt(readText('/proc/sys/kernel/cap_last_cap'), 10);
  let cgroupVersion: 1 | 2 = 1;
  try {
    accessSync('/sys/fs/cgroup/cgroup.controllers');
    cgroupVersion = 2;
  } catch {
    cgroupVersion = 1;
  }
  return {
    uid,
    gid,
    userName,
    subuid: parseSubIds(readText('/etc/subuid'), userName, uid),
    subgid: parseSubIds(readText('/etc/subgid'), userName, uid),
    newuidmap: findExecutable('newuidmap'),
    newgidmap: findExecutable('newgidmap'),
    capLastCap: Number.isFinite(last) ? last : 40,
    cgroupVersion,
    rootless: uid !== 0 || inUserNamespace(),
    lsm: probeLsm(),
  };
}
