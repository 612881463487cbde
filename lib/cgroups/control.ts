// Acting on a running container's cgroup, from its state record: freeze and thaw (pause and
// resume), list its processes (ps), change its limits (update).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError, stateError } from '../errors.js';
import type { Resources } from '../spec/schema.js';
import { sleepSync } from '../state/proc.js';
import type { ContainerState } from '../state/store.js';
import { applyWrites, writeCgroupFile } from './apply.js';
import { deviceFilterProgram } from './devicefilter.js';
import { attachDeviceFilter, cgroupsBelow } from './manager.js';
import { belongs, isForeign, isShared } from './members.js';
import { orderForCurrent, v1Writes, v2Writes } from './values.js';

type Cgroup = NonNullable<ContainerState['cgroup']>;

export function cgroupOf(state: ContainerState): Cgroup {
  if (!state.cgroup) throw stateError(`container \`${state.id}\` has no cgroup (it was started rootless without limits)`);
  return state.cgroup;
}

function unavailable(controller: string): never {
  throw stateError(`the \`${controller}\` cgroup controller is not available for this container`);
}

function dir(cg: Cgroup, controller: string): string {
  return (cg.version === 2 ? cg.dirs[''] : cg.dirs[controller]) ?? unavailable(controller);
}

/** The controller whose directory's cgroup.procs lists the container's processes ('' on v2). */
export const procsController = (cg: Cgroup): '' | 'pids' => (cg.version === 2 ? '' : 'pids');

/** A container's freezer: the file written to freeze or thaw, the file that says it has
 * (v1: freezer.state both; v2: cgroup.freeze, cgroup.events), or undefined without one. The
 * native front's record names the same files (lib/state/front-record.ts). */
export function freezerOf(cg: Cgroup): { control: string; status: string; v2: boolean } | undefined {
  if (cg.version === 2) return cg.dirs[''] ? { control: join(cg.dirs[''], 'cgroup.freeze'), status: join(cg.dirs[''], 'cgroup.events'), v2: true } : undefined;
  return cg.dirs.freezer ? { control: join(cg.dirs.freezer, 'freezer.state'), status: join(cg.dirs.freezer, 'freezer.state'), v2: false } : undefined;
}

/** The freezer says frozen (or, `frozen` false, thawed). Throws what reading it throws. */
function freezerSays(f: NonNullable<ReturnType<typeof freezerOf>>, frozen: boolean): boolean {
  const text = readFileSync(f.status, 'utf8');
  return f.v2 ? text.includes(`frozen ${frozen ? 1 : 0}`) : text.trim() === (frozen ? 'FROZEN' : 'THAWED');
}

/** pause (freeze=true) and resume: v1 freezer.state, v2 cgroup.freeze. Waits until frozen. */
export function setFrozen(state: ContainerState, freeze: boolean): void {
  const cg = cgroupOf(state);
  // The freezer takes the whole cgroup: the others in it would stop too.
  if (freeze) {
    const others = cgroupProcs(cg).filter((pid) => isForeign(state, pid));
    if (others.length) throw stateError(`cannot pause container \`${state.id}\`: its cgroup (linux.cgroupsPath) is shared with processes that are not the container's (${others.join(', ')}), which the freezer would stop too`);
  }
  const f = freezerOf(cg) ?? unavailable(cg.version === 2 ? '' : 'freezer');
  const value = f.v2 ? (freeze ? '1' : '0') : freeze ? 'FROZEN' : 'THAWED';
  try {
    writeCgroupFile(f.control, value);
    // FREEZING can take a moment while tasks reach a safe point; runc polls too.
    const until = Date.now() + 5000;
    while (!freezerSays(f, freeze)) {
      if (Date.now() > until) throw Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
      sleepSync(10);
    }
  } catch (err) {
    throw fromNodeError('host', `cannot ${freeze ? 'freeze' : 'thaw'} the container via`, err, { file: f.control });
  }
}

export function isFrozen(state: ContainerState): boolean {
  const f = state.cgroup && freezerOf(state.cgroup);
  try {
    return f ? freezerSays(f, true) : false;
  } catch {
    return false;
  }
}

/** The directory whose cgroup.procs lists the container's processes is still there. */
export function cgroupExists(state: ContainerState): boolean {
  const cg = cgroupOf(state);
  return existsSync(dir(cg, procsController(cg)));
}

/** SIGKILL every process of the container in its cgroup (delete --force): cgroup.kill where
 * the kernel has it (v2, 5.14+), otherwise frozen first so that nothing forks away between
 * reading cgroup.procs and the kills, as runc does. In a cgroup shared with others (members.ts)
 * neither (both would reach the others too): its processes are killed round by round until
 * none is left, a fork that got away in one round being caught in the next. */
export function killCgroup(state: ContainerState): void {
  const cg = cgroupOf(state);
  if (!cgroupExists(state)) return; // removed already: nothing left
  if (isShared(cg) || cgroupProcs(cg).some((pid) => isForeign(state, pid))) {
    for (let round = 0; round < 200; round++) {
      const pids = containerPids(state);
      if (pids.length === 0) return;
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* gone already */
        }
      }
      sleepSync(5);
    }
    throw stateError(`the container's processes in the shared cgroup \`${dir(cg, procsController(cg))}\` keep forking; not all killed`);
  }
  if (cg.version === 2) {
    const file = join(dir(cg, ''), 'cgroup.kill');
    try {
      writeCgroupFile(file, '1');
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fromNodeError('host', 'cannot kill the container via', err, { file });
    }
  }
  // A freezer a delete already removed (the native front removes what it can, then hands a
  // cgroup that will not go to Node) has nothing left to freeze.
  const canFreeze = cg.version === 2 || (cg.dirs.freezer !== undefined && existsSync(cg.dirs.freezer));
  if (canFreeze) setFrozen(state, true);
  try {
    for (const pid of containerPids(state)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* gone already */
      }
    }
  } finally {
    if (canFreeze) setFrozen(state, false);
  }
}

/** Host pids of the container's processes in its cgroup (members.ts: not the others there). */
export function containerPids(state: ContainerState): number[] {
  return cgroupProcs(cgroupOf(state)).filter((pid) => belongs(state, pid));
}

function cgroupProcs(cg: Cgroup): number[] {
  return procsBelow(dir(cg, procsController(cg)));
}

/** The pids in `d` and in every cgroup below it. cgroup.procs lists a cgroup's own processes
 * only, and a container with a cgroup namespace and a writable cgroupfs may move its processes
 * into cgroups it makes below its own: without a pid namespace (whose init takes everything
 * with it), `kill --all` and `delete --force` left those running, as runc's GetAllPids does
 * not. One that went meanwhile is skipped. */
function procsBelow(d: string): number[] {
  return [...procsIn(d), ...cgroupsBelow(d).flatMap(procsQuiet)];
}

function procsQuiet(d: string): number[] {
  try {
    return readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** The pids in the cgroup directory `d`. */
export function procsIn(d: string): number[] {
  const file = join(d, 'cgroup.procs');
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch (err) {
    throw fromNodeError('host', 'cannot read', err, { file });
  }
}

/** Write new limits to a live container (runc update). */
export function updateResources(state: ContainerState, resources: Resources, checkBeforeUpdate = resources.memory?.checkBeforeUpdate ?? false): void {
  const cg = cgroupOf(state);
  const writes = cg.version === 2 ? v2Writes(resources) : v1Writes(resources);
  const memDir = cg.version === 2 ? cg.dirs[''] : cg.dirs.memory;
  const current = (file: string) => {
    try {
      return memDir ? readFileSync(join(memDir, file), 'utf8') : undefined;
    } catch {
      return undefined;
    }
  };
  const limit = resources.memory?.limit;
  if (checkBeforeUpdate && limit !== undefined && limit > 0) {
    // memory.checkBeforeUpdate, as runc: refuse a limit below what the container uses now
    // (the kernel would reclaim hard, then OOM-kill to get there).
    const usage = Number(current(cg.version === 2 ? 'memory.current' : 'memory.usage_in_bytes'));
    if (usage > limit) {
      throw stateError(`cannot set the memory limit to ${limit}: the container uses ${usage} bytes now (linux.resources.memory.checkBeforeUpdate)`);
    }
  }
  applyWrites((c) => dir(cg, c), orderForCurrent(writes, current));
  // v2 device rules are a program, not files: a new one replaces the old (no window without).
  if (cg.version === 2 && resources.devices) {
    if (process.getuid!() !== 0) throw stateError('device rules on cgroup v2 need root (an eBPF program): not updated', { configPath: 'linux.resources.devices' });
    attachDeviceFilter(dir(cg, ''), deviceFilterProgram(resources.devices));
  }
}
