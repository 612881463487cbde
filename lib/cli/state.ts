// `launch state ID`: the OCI state (runtime.md) of a container, as JSON.
import { isFrozen } from '../cgroups/control.js';
import { isAlive } from '../state/proc.js';
import { type ContainerState, StateStore, ociState } from '../state/store.js';
import type { GlobalOptions } from './main.js';

/** The stored state with the status as it is now; the native front derives it the same way
 * (addon/front/verbs.c status_of, and StateStore.read for `created`). */
export function currentState(o: GlobalOptions, id: string): ContainerState {
  const state = new StateStore(o.root).read(id);
  if (state.pid !== undefined && !isAlive(state.pid, state.started)) return { ...state, status: 'stopped' };
  if (state.status === 'running' && isFrozen(state)) return { ...state, status: 'paused' };
  return state;
}

/** currentState, holding the container's lock (StateStore.lock) until launch exits: for the
 * verbs that change the container. */
export function lockedState(o: GlobalOptions, id: string): ContainerState {
  new StateStore(o.root).lock(id);
  return currentState(o, id);
}

export function stateVerb(o: GlobalOptions & { id: string }): void {
  process.stdout.write(`${JSON.stringify(ociState(currentState(o, o.id)), null, 2)}\n`);
}
