// Starting a created container: release its init from the exec FIFO it waits at (it then
// runs the startContainer hooks and execs the configured process), return once it has, as
// runc start, and run the poststart hooks. `launch start` (lib/cli/start.ts) calls this.
import { closeSync, constants, openSync, readSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type LaunchError, fromNodeError, setupError, stateError } from '../errors.js';
import { type WarnOption, childHookFailure, hookError, runHooksSync } from '../runtime/hooks.js';
import { MSG_SIZE, type MsgRecord, decodeMsg } from '../plan/ops.js';
import { seccompNotifies } from '../plan/seccomp.js';
import type { Hooks, Seccomp } from '../spec/schema.js';
import { native } from '../runtime/native.js';
import { isAlive } from '../state/proc.js';
import { type ContainerState, EXEC_FIFO, StateStore } from '../state/store.js';
import { lockedState } from './state.js';

export interface StartOptions extends WarnOption {
  /** The state root (--root). */
  root: string;
  id: string;
  /** The init's failure record when the native front has read it from the FIFO already (and
   * let the init go, and removed the FIFO): then only its wording is left to do here. */
  frontRecord?: Buffer;
}

/** Start the created container `id`; returns once its process has been exec'ed (and the
 * poststart hooks have run). Throws when it is not `created`, or when its init failed before
 * the exec (the startContainer hooks, the seccomp filter, the exec itself). */
export function start(o: StartOptions): void {
  const { state, release } = lockedState(o.root, o.id);
  try {
    startLocked(o, state);
  } finally {
    release();
  }
}

function startLocked(o: StartOptions, state: ContainerState): void {
  // The front has let the init go and removed the FIFO already: only the wording is left.
  if (o.frontRecord?.length === MSG_SIZE) throw initFailure(decodeMsg(o.frontRecord), state.config?.hooks, state.seccomp);
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
  let record: Buffer;
  try {
    const buf = Buffer.alloc(1 + MSG_SIZE);
    let got = 0;
    /** Bytes read, 0 at end-of-file, -1 when nothing is there yet (EAGAIN). */
    const readSome = (): number => {
      try {
        const n = readSync(fd, buf, got, buf.length - got, null);
        got += n;
        return n;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw fromNodeError('state', 'cannot read the exec FIFO', err, { file: fifo });
        return -1;
      }
    };
    for (;;) {
      const n = readSome();
      // After the byte, end-of-file: the init's exec closed the FIFO (startContainer hooks ran
      // before it), or it failed and wrote one error record first.
      if (n === 0 && got > 0) break;
      // Before the byte, 0 = no writer yet (EOF); EAGAIN = opened, nothing written: wait,
      // unless gone. A short-lived program may have been started, run and reaped since that
      // read: its byte is still in the FIFO, so look once more before calling it dead.
      if (got === 0 && !isAlive(state.pid!, state.started) && readSome() <= 0) {
        throw stateError(`cannot start container \`${o.id}\`: its init exited before start`);
      }
      if (n > 0) continue;
      // Woken by the byte, or by the init's exec closing its end; the timeout only bounds how
      // long a dead init goes unnoticed.
      native().waitReadable(fd, 50);
    }
    record = buf.subarray(1, got);
  } finally {
    closeSync(fd);
  }
  unlinkSync(fifo);
  // As recorded at create: config.json is the bundle owner's to edit, and these run as us.
  const hooks = state.config?.hooks;
  if (record.length === MSG_SIZE) throw initFailure(decodeMsg(record), hooks, state.seccomp);
  const running = { ...store.read(o.id), status: 'running' as const };
  store.write(running);
  runHooksSync(hooks, 'poststart', running, { warnOnly: true, warn: o.warn });
}

/** The init's failure record on the FIFO: its op counts from WAIT_START, after which come the
 * seccomp filter (unless it notifies: then it loaded before `created`), the startContainer
 * hooks (lib/plan/build.ts), then the exec. */
function initFailure({ op, err: errno, aux }: MsgRecord, hooks: Hooks | undefined, seccomp: Seccomp | undefined): LaunchError {
  const filterOp = seccomp && !seccompNotifies(seccomp) ? 1 : 0;
  if (filterOp && op === filterOp) {
    return setupError('load the seccomp filter', { configPath: 'linux.seccomp', errno: errno || undefined });
  }
  const hook = hooks?.startContainer?.[op - 1 - filterOp];
  if (hook && op >= 1) return hookError(`hooks.startContainer[${op - 1 - filterOp}]`, hook.path, hook.timeout, childHookFailure(errno, aux));
  return setupError("the container's process did not start", { configPath: 'process.args', errno: errno || undefined });
}
