// `launch state ID`: the OCI state (runtime.md) of a container, as JSON.
import { currentState as current, ociStateOf } from '../lifecycle/state.js';
import type { ContainerState } from '../state/store.js';
import type { GlobalOptions } from './main.js';

/** lib/lifecycle/state.ts currentState under the command line's --root. */
export function currentState(o: GlobalOptions, id: string): ContainerState {
  return current(o.root, id);
}

export function stateVerb(o: GlobalOptions & { id: string }): void {
  process.stdout.write(`${JSON.stringify(ociStateOf(o.root, o.id), null, 2)}\n`);
}
