// `launch pause ID` / `launch resume ID`: freeze and thaw every process of the container.
import { setFrozen } from '../cgroups/control.js';
import { stateError } from '../errors.js';
import type { GlobalOptions } from './main.js';
import { lockedState } from '../lifecycle/state.js';

export function pauseVerb(o: GlobalOptions & { id: string; freeze: boolean }): void {
  const { state, release } = lockedState(o.root, o.id);
  try {
    const want = o.freeze ? 'running' : 'paused';
    if (state.status !== want) throw stateError(`container \`${o.id}\` is ${state.status}, not ${want}`);
    setFrozen(state, o.freeze);
  } finally {
    release();
  }
}
