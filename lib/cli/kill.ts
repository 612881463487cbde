// `launch kill [--all] ID [SIGNAL]`: send a signal (name or number, SIGTERM by default) to the
// container's init, or with --all to every process of its cgroup (lib/lifecycle/kill.ts).
import { kill } from '../lifecycle/kill.js';
import type { GlobalOptions } from './main.js';

export function killVerb(o: GlobalOptions & { id: string; signal: string; all: boolean }): void {
  kill({ root: o.root, id: o.id, signal: o.signal, all: o.all });
}
