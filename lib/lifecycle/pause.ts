// Freezing and thawing every process of a container (its cgroup's freezer). `launch pause`
// and `launch resume` (lib/cli/pause.ts) call these.
import { setFrozen } from '../cgroups/control.js';
import { stateError } from '../errors.js';
import { lockedState } from './state.js';

export interface PauseOptions {
  /** The state root (--root). */
  root: string;
  id: string;
}

/** Freeze (`freeze`) a running container, or thaw a paused one. */
export function setPaused(o: PauseOptions, freeze: boolean): void {
  const { state, release } = lockedState(o.root, o.id);
  try {
    const want = freeze ? 'running' : 'paused';
    if (state.status !== want) throw stateError(`container \`${o.id}\` is ${state.status}, not ${want}`);
    setFrozen(state, freeze);
  } finally {
    release();
  }
}

export const pause = (o: PauseOptions): void => setPaused(o, true);
export const resume = (o: PauseOptions): void => setPaused(o, false);
