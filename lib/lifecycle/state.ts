// A container's state as it is now, the rule every verb reads it by, and the same under the
// container's lock for the verbs that change it. Both paths (this one and the native front,
// addon/front/verbs.c status_of) derive the status the same way.
import { isFrozen } from '../cgroups/control.js';
import { isAlive } from '../state/proc.js';
import { type ContainerState, type OciState, StateStore, ociState } from '../state/store.js';

/** The stored state with the status as it is now: a dead (or recycled) init is `stopped`, a
 * frozen cgroup `paused`; StateStore.read already says `running` for a started `created`. */
export function currentState(root: string, id: string): ContainerState {
  const state = new StateStore(root).read(id);
  if (state.pid !== undefined && !isAlive(state.pid, state.started)) return { ...state, status: 'stopped' };
  if (state.status === 'running' && isFrozen(state)) return { ...state, status: 'paused' };
  return state;
}

/** currentState read under the container's lock (StateStore.lock), and the lock's release. */
export interface Locked {
  state: ContainerState;
  /** Give the lock back; only the first call does anything. */
  release(): void;
}

/** currentState, holding the container's lock until `release` (or the process's exit): the
 * verbs that change the container (start, kill, pause, resume, update) run one at a time per
 * id. The lock is released again when reading the state fails. */
export function lockedState(root: string, id: string): Locked {
  const unlock = new StateStore(root).lock(id);
  let held = true;
  const release = () => {
    if (held) unlock();
    held = false;
  };
  try {
    return { state: currentState(root, id), release };
  } catch (err) {
    release();
    throw err;
  }
}

/** The OCI state (runtime.md) of a container as it is now: what `launch state` prints. */
export function ociStateOf(root: string, id: string): OciState {
  return ociState(currentState(root, id));
}
