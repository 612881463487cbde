// Acting on a running container's cgroup, from its state record: freeze and thaw (pause and
// resume), list its processes (ps), change its limits (update).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError, stateError } from '../errors.js';
import type { Resources } from '../spec/schema.js';
import { sleepSync } from '../state/proc.js';
import type { ContainerState } from '../state/store.js';
import { applyWrites, writeCgroupFile } from './apply.js';
import { orderForCurrent, v1Writes, v2Writes } from './values.js';

type Cgroup = NonNullable<ContainerState['cgroup']>;

export function cgroupOf(state: ContainerState): Cgroup {
  if (!state.cgroup) throw stateError(`container \`${state.id}\` has no cgroup (it was started rootless without limits)`);
  return state.cgroup;
}

function dir(cg: Cgroup, controller: string): string {
  const d = cg.version === 2 ? cg.dirs[''] : cg.dirs[controller];
  if (!d) throw stateError(`the \`${controller}\` cgroup controller is not available for this container`);
  return d;
}

/** pause (freeze=true) and resume: v1 freezer.state, v2 cgroup.freeze. Waits until frozen. */
export function setFrozen(state: ContainerState, freeze: boolean): void {
  const cg = cgroupOf(state);
  const [file, value, done] =
    cg.version === 2
      ? [join(dir(cg, ''), 'cgroup.freeze'), freeze ? '1' : '0', () => readFileSync(join(dir(cg, ''), 'cgroup.events'), 'utf8').includes(`frozen ${freeze ? 1 : 0}`)]
      : [join(dir(cg, 'freezer'), 'freezer.state'), freeze ? 'FROZEN' : 'THAWED', () => readFileSync(join(dir(cg, 'freezer'), 'freezer.state'), 'utf8').trim() === (freeze ? 'FROZEN' : 'THAWED')];
  try {
    writeCgroupFile(file, value);
    // FREEZING can take a moment while tasks reach a safe point; runc polls too.
    const until = Date.now() + 5000;
    while (!done()) {
      if (Date.now() > until) throw Object.assign(new Error('timed out'), { code: 'ETIMEDOUT' });
      sleepSync(10);
    }
  } catch (err) {
    throw fromNodeError('host', `cannot ${freeze ? 'freeze' : 'thaw'} the container via`, err, { file });
  }
}

export function isFrozen(state: ContainerState): boolean {
  const cg = state.cgroup;
  if (!cg) return false;
  try {
    if (cg.version === 2) return readFileSync(join(dir(cg, ''), 'cgroup.events'), 'utf8').includes('frozen 1');
    return readFileSync(join(dir(cg, 'freezer'), 'freezer.state'), 'utf8').trim() === 'FROZEN';
  } catch {
    return false;
  }
}

/** Host pids of every process in the container's cgroup. */
export function containerPids(state: ContainerState): number[] {
  const cg = cgroupOf(state);
  const file = join(cg.version === 2 ? dir(cg, '') : dir(cg, 'pids'), 'cgroup.procs');
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map(Number);
  } catch (err) {
    throw fromNodeError('host', 'cannot read', err, { file });
  }
}

/** Write new limits to a live container (runc update). */
export function updateResources(state: ContainerState, resources: Resources): void {
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
  applyWrites((c) => dir(cg, c), orderForCurrent(writes, current));
}
