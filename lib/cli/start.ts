// `launch start ID`: start a created container (lib/lifecycle/start.ts).
import { start } from '../lifecycle/start.js';
import type { GlobalOptions } from './main.js';

/** A failure record the native front read from the FIFO (main.ts FRONT_START_FAILED). */
let fromFront: Buffer | undefined;
export function frontStartFailure(hex: string): void {
  fromFront = /^[0-9a-f]*$/.test(hex) ? Buffer.from(hex, 'hex') : Buffer.alloc(0);
}

export function startVerb(o: GlobalOptions & { id: string }): void {
  start({ root: o.root, id: o.id, ...(fromFront ? { frontRecord: fromFront } : {}) });
}
