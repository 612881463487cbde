// Which processes in a container's cgroup are the container's. A cgroup launch made is the
// container's alone: everything in it goes with the container, as runc. But linux.cgroupsPath
// may name a cgroup that was there before, holding processes of the host or of another
// container (runc 1.1 warns, then its `kill --all` kills them too and its `delete` removes the
// cgroup once empty). In such a shared cgroup only the container's own processes are signalled:
// those in a namespace it made (its pid namespace, else its mount namespace), or descended from
// one, or without such a namespace, from its init. The same holds, by the pid namespace, where
// another container joined a cgroup launch made for this one. Runs in the launch process.
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Spec } from '../spec/schema.js';
import { processStartTime } from '../state/proc.js';
import type { ContainerState } from '../state/store.js';
import type { CgroupPlan } from './manager.js';

type Cgroup = NonNullable<ContainerState['cgroup']>;

/** Some directory the container joined was there before launch made anything. */
export function isShared(cg: Cgroup): boolean {
  const created = cg.created;
  return created !== undefined && Object.values(cg.dirs).some((d) => !created.includes(d));
}

function nsLink(pid: number | 'self', type: string): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/${type}`);
  } catch {
    return undefined;
  }
}

/** The namespace, of those `spec` makes rather than joins, that tells the container's processes
 * apart: pid, else mount. Read at the first sync; one still launch's own then (made after the
 * sync, when a user namespace is joined) is no mark at all, and is not recorded. */
export function ownNamespace(spec: Spec, pid: number): ContainerState['ns'] {
  const made = (type: string) => spec.linux?.namespaces?.some((n) => n.type === type && !n.path);
  for (const [type, file] of [['pid', 'pid'], ['mount', 'mnt']] as const) {
    if (!made(type)) continue;
    const link = nsLink(pid, file);
    if (link !== undefined && link !== nsLink('self', file)) return { type: file, link };
  }
  return undefined;
}

function parentOf(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (in parentheses) may hold spaces and parentheses itself.
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Whether the host process `pid`, found in the container's cgroup, is the container's (see
 * the top of this file). Also in a cgroup launch made: another container may have joined it
 * through its own cgroupsPath. */
export function belongs(state: ContainerState, pid: number): boolean {
  // A cgroup launch made, for a container without a pid namespace of its own (or a state from
  // before these records): everything in it, as runc. A process can leave a mount namespace
  // (unshare -m, then daemonize away from the init), never a pid namespace: only that one
  // tells the container's apart reliably enough to spare the rest of a cgroup that is its own.
  if (state.ns?.type !== 'pid' && !(state.cgroup && isShared(state.cgroup))) return true;
  // Nested pid namespaces are at most 32 deep; a process tree may be deeper, but a chain
  // this long outside the container's namespace is not the container's.
  for (let p: number | undefined = pid, depth = 0; p !== undefined && p > 1 && depth < 256; depth++) {
    if (state.ns) {
      if (nsLink(p, state.ns.type) === state.ns.link) return true;
    } else if (p === state.pid && processStartTime(p) === state.started) {
      return true;
    }
    p = parentOf(p);
  }
  return false;
}

/** A process in the container's cgroup that is someone else's: not the container's, and still
 * there. A process that exited while it was being looked at (a short-lived child of the
 * container's, say) is no one's to spare, and must not make pause refuse a cgroup it left. */
export function isForeign(state: ContainerState, pid: number): boolean {
  if (belongs(state, pid)) return false;
  try {
    readFileSync(`/proc/${pid}/stat`);
    return true;
  } catch {
    return false;
  }
}

/** At create: a cgroup that was there before and holds processes already is shared with
 * them. As runc, a warning (runc 1.2 refuses it), which also says what launch does about it. */
export function warnShared(plan: CgroupPlan, made: readonly string[], where: string, warn: (line: string) => void): void {
  for (const dir of plan.joins) {
    if (made.includes(dir)) continue;
    let procs: string[];
    try {
      procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean);
    } catch {
      continue;
    }
    if (procs.length === 0) continue;
    warn(`launch: warning: ${where}: linux.cgroupsPath: the cgroup \`${dir}\` already holds ${procs.length} process(es) that are not the container's: they share its limits, and are left alone by \`kill --all\` and \`delete --force\`, which do not remove the cgroup`);
    return;
  }
}
