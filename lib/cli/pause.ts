// `launch pause ID` / `launch resume ID`: freeze and thaw every process of the container
// (lib/lifecycle/pause.ts).
import { setPaused } from '../lifecycle/pause.js';
import type { GlobalOptions } from './main.js';

export function pauseVerb(o: GlobalOptions & { id: string; freeze: boolean }): void {
  setPaused({ root: o.root, id: o.id }, o.freeze);
}
