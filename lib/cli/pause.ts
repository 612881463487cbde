// `launch pause ID` / `launch resume ID`: freeze and thaw every process of the container.
import { setFrozen } from '../cgroups/control.js';
import { stateError } from '../errors.js';
import type { GlobalOptions } from './main.js';
import { lockedState } from './state.js';

export function pauseVerb(o: GlobalOptions & { id: string; freeze: boolean }): void {
  const state = lockedState(o, o.id);
  const want = o.freeze ? 'running' : 'paused';
  if (state.status !== want) throw stateError(`container \`${o.id}\` is ${state.status}, not ${want}`);
  setFrozen(state, o.freeze);
}
