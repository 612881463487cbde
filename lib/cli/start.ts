// `launch start ID`: release a created container's init from the exec FIFO it waits at (it
// then execs the configured process) and return, as runc start.
import { closeSync, constants, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError, stateError } from '../errors.js';
import { isAlive, sleepSync } from '../state/proc.js';
import { EXEC_FIFO, StateStore } from '../state/store.js';
import type { GlobalOptions } from './main.js';
import { currentState } from './state.js';

export function startVerb(o: GlobalOptions & { id: string }): void {
  const state = currentState(o, o.id);
  if (state.status !== 'created') {
    throw stateError(state.status === 'stopped' ? `cannot start container \`${o.id}\`: it has stopped` : `cannot start container \`${o.id}\`: it is ${state.status}, not created`);
  }
  const store = new StateStore(o.root);
  const fifo = join(store.dir(o.id), EXEC_FIFO);
  let fd: number;
  try {
    // Non-blocking: the init is already blocked opening the other end, so this open lets it
    // go on; a blocking open would hang forever if the init had died meanwhile.
    fd = openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw fromNodeError('state', `cannot start container \`${o.id}\`: no exec FIFO`, err, { file: fifo });
  }
  try {
    const buf = Buffer.alloc(1);
    for (;;) {
      let n = 0;
      try {
        n = readSync(fd, buf, 0, 1, null);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw fromNodeError('state', 'cannot read the exec FIFO', err, { file: fifo });
      }
      if (n === 1) break;
      // 0 = no writer yet (EOF) or EAGAIN = opened, byte not written yet: wait, unless gone.
      if (!isAlive(state.pid!, state.started)) throw stateError(`cannot start container \`${o.id}\`: its init exited before start`);
      sleepSync(2);
    }
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
  store.write({ ...store.read(o.id), status: 'running' });
}
