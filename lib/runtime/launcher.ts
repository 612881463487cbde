// Start a planned container: clone the child, serve its sync requests, and learn whether its
// execve succeeded (EOF on the close-on-exec sync socket) or which op failed (an error record).
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { constants as os } from 'node:os';
import { type LaunchError, fromNodeError, hostError, nodeErrno, setupError } from '../errors.js';
import type { HostFacts } from '../host.js';
import type { Plan } from '../plan/build.js';
import { encodePlan } from '../plan/encode.js';
import { MSG, STAGE, type Op, MSG_SIZE, type MsgRecord, decodeMsg } from '../plan/ops.js';
import { childHookFailure, hookError } from './hooks.js';
import { writeIdMaps } from './idmaps.js';
import { native } from './native.js';

export interface ExitStatus {
  code: number | null;
  signal: number | null;
}

export interface Started {
  /** The container's init (host pid). */
  pid: number;
  pidfd: number;
  exited: Promise<ExitStatus>;
  /** The exit status once JavaScript has seen the exit (and reaped the process), else undefined. */
  readonly exitStatus: ExitStatus | undefined;
  /** Send a signal through the pidfd; returns the errno (0 on success). */
  kill(signal: number): number;
  /** Close the pidfd once the exit has been seen. */
  release(): void;
}

interface Msg extends MsgRecord {
  /** An fd that came with the record (MSG.CONSOLE: the pty master), else -1. */
  fd: number;
}

// Through the addon, not readSync: a record may carry an fd (SCM_RIGHTS), which only recvmsg sees.
function recvMsg(fd: number): Msg | null {
  let got: { data: Buffer; fd: number } | null;
  try {
    got = native().recvMsg(fd, MSG_SIZE * 4);
  } catch (err) {
    // The child died with our acknowledgement unread: as end-of-file, its exit tells the rest.
    if ((err as { errno?: number }).errno === os.errno.ECONNRESET) return null;
    throw hostError("cannot read from the container's init", { errno: (err as { errno?: number }).errno, cause: err });
  }
  if (got === null) return null;
  const buf = got.data;
  if (buf.length !== MSG_SIZE) {
    if (got.fd >= 0) closeSync(got.fd);
    throw hostError(`short message (${buf.length} bytes) from the container's init`);
  }
  return { ...decodeMsg(buf), fd: got.fd };
}

function sendMsg(fd: number, type: number): void {
  const buf = Buffer.alloc(MSG_SIZE);
  buf.writeUInt32LE(type, 0);
  try {
    writeSync(fd, buf);
  } catch (err) {
    // The child died (killed with its pid namespace, say) before our answer: as in recvMsg,
    // the next read sees the end, and its exit status tells the rest.
    if ((err as NodeJS.ErrnoException).code === 'EPIPE') return;
    throw hostError("cannot write to the container's init", { errno: nodeErrno(err), cause: err });
  }
}

/** Turn the child's (op index, errno) into the error the user reads. */
export function childFailure(ops: readonly Op[], index: number, errno: number, aux: number): LaunchError {
  const op = ops[index];
  if (!op) return setupError(`the container's init failed at step ${index}`, { errno });
  const { configPath, what, file } = op.origin;
  if (op.op === 'RUN_HOOK') return hookError(configPath!, file!, Number(BigInt(op.args[5] as bigint) >> 32n), childHookFailure(errno, aux));
  if (op.op === 'EXEC') {
    const candidates = op.args[0] as string[];
    const arg0 = file ?? '';
    if (errno === os.errno.ENOENT) {
      const msg = arg0.includes('/') ? 'executable file not found:' : 'executable file not found in $PATH:';
      return setupError(msg, { configPath, file: arg0, errno, exitCode: 127 });
    }
    const path = candidates[aux] ?? arg0;
    const notExecutable = errno === os.errno.EACCES || errno === os.errno.ENOEXEC || errno === os.errno.EISDIR;
    return setupError('cannot execute', { configPath, file: path, errno, exitCode: notExecutable ? 126 : 125 });
  }
  return setupError(what, { configPath, file, errno });
}

export interface StartOptions {
  host: HostFacts;
  /** Called while the child still waits at its first sync, before it runs any of the
   * container's code: the place for pid files and state that must exist by then. */
  beforeRelease?: (pid: number) => void | Promise<void>;
  /** prestart and createRuntime hooks: run while the child waits at STAGE.HOOKS, its mounts
   * in place and before pivot_root. A throw aborts the start. */
  runtimeHooks?: (pid: number) => Promise<void>;
  /** `create`: the child stops before its exec and reports it (STAGE.CREATED); called then,
   * and startContainer returns without waiting for the exec. */
  onCreated?: (pid: number) => void;
  /** false (create, run --detach): no waiter thread, which would keep launch alive as long as
   * the container; the exit is watched only if setup fails and the child must be reaped. */
  watch?: boolean;
  /** process.terminal: the pty master the init opened in the container (CONSOLE), received
   * before the exec (and before `created`). The callee owns the fd; a throw aborts the start. */
  onConsole?: (master: number) => void;
  /** linux.seccomp with a notify rule: the filter's listener fd (MSG.SECCOMP), received after
   * the filter is loaded and before the exec; closed by the caller afterwards. A throw aborts. */
  onSeccomp?: (listener: number, pid: number) => void;
  /** encodePlan(plan.ops), when the caller has it already (run.ts keeps it for the compiler,
   * which compares with the bytes that ran: one encoding less in a cold start). */
  planBytes?: Buffer;
}

export async function startContainer(plan: Plan, opts: StartOptions): Promise<Started> {
  const addon = native();
  const buf = opts.planBytes ?? encodePlan(plan.ops);
  let pidnsFd = -1;
  if (plan.pidnsPath) {
    try {
      pidnsFd = openSync(plan.pidnsPath, 'r');
    } catch (err) {
      throw fromNodeError('spec', 'cannot open pid namespace', err, { configPath: 'linux.namespaces', file: plan.pidnsPath });
    }
  }
  let child: { pid: number; pidfd: number; syncFd: number };
  try {
    child = addon.spawn(buf, plan.cloneFlags, pidnsFd);
  } catch (err) {
    const e = err as { errno?: number; syscall?: string };
    throw hostError(`cannot create the container process (${e.syscall ?? 'clone3'})`, { errno: e.errno, cause: err });
  } finally {
    if (pidnsFd >= 0) closeSync(pidnsFd);
  }
  const { pid, syncFd } = child;
  let exitStatus: ExitStatus | undefined;
  // The status is recorded in the callback itself (the reap happens there), not in a later
  // promise reaction: code that runs in between must not think the process still unreaped.
  const waitOn = (fd: number) =>
    new Promise<ExitStatus>((resolve) => {
      addon.waitExit(fd, (code, signal) => {
        const status = { code: code >= 0 ? code : null, signal: signal || null };
        // FORK_INIT swaps the pidfd (MSG.PID below): the maker's exit is not the container's.
        if (started.pidfd === fd) exitStatus = status;
        resolve(status);
      });
    });
  let exitedPromise: Promise<ExitStatus> | undefined;
  const exited = () => (exitedPromise ??= waitOn(started.pidfd));
  let released = false;
  const started: Started = {
    pid,
    pidfd: child.pidfd,
    get exited() {
      return exited();
    },
    get exitStatus() {
      return exitStatus;
    },
    kill: (signal) => (released ? os.errno.ESRCH : addon.pidfdSignal(started.pidfd, signal)),
    release: () => {
      if (!released) closeSync(started.pidfd);
      released = true;
    },
  };
  if (opts.watch !== false) exited();
  try {
    for (;;) {
      const msg = recvMsg(syncFd);
      if (msg === null) {
        // execve succeeded: the socket closed with it. Unless `create` expected the child to
        // stop before its exec: then it died on the way.
        if (opts.onCreated) throw setupError('the container\'s init exited before it was created');
        break;
      }
      if (msg.type === MSG.CONSOLE && msg.fd >= 0) {
        if (opts.onConsole) opts.onConsole(msg.fd);
        else closeSync(msg.fd);
        sendMsg(syncFd, MSG.ACK); // the init waits for it before going on to its exec
        continue;
      }
      if (msg.type === MSG.SECCOMP && msg.fd >= 0) {
        try {
          if (!opts.onSeccomp) throw hostError('the container\'s init sent a seccomp notify fd nobody asked for');
          opts.onSeccomp(msg.fd, started.pid);
        } finally {
          closeSync(msg.fd);
        }
        sendMsg(syncFd, MSG.ACK);
        continue;
      }
      // Nothing else carries an fd: never keep one by accident.
      if (msg.fd >= 0) closeSync(msg.fd);
      if (msg.type === MSG.ERROR) throw childFailure(plan.ops, msg.op, msg.err, msg.aux);
      if (msg.type === MSG.PID) {
        // FORK_INIT: the container's init is our child too (CLONE_PARENT); the process that
        // forked it exits now. Reap that one, and watch and signal the init from here on.
        const maker = started.pidfd;
        const reaped = exitedPromise ?? waitOn(maker);
        void reaped.then(() => closeSync(maker));
        started.pid = msg.aux;
        started.pidfd = addon.pidfdOpen(msg.aux);
        exitedPromise = undefined;
        if (opts.watch !== false) exited();
        continue;
      }
      if (msg.type !== MSG.SYNC) throw hostError(`unexpected message ${msg.type} from the container's init`);
      if (msg.aux === STAGE.CREATED) {
        opts.onCreated?.(started.pid);
        sendMsg(syncFd, MSG.ACK);
        break; // it now waits for `start` at the exec FIFO
      }
      if (msg.aux === STAGE.USERMAP) {
        if (plan.idmap) writeIdMaps(started.pid, plan.idmap, { newuidmap: opts.host.newuidmap, newgidmap: opts.host.newgidmap });
        if (plan.oomScoreAdj !== undefined) {
          try {
            writeFileSync(`/proc/${started.pid}/oom_score_adj`, String(plan.oomScoreAdj));
          } catch (err) {
            throw fromNodeError('host', 'cannot set oom_score_adj via', err, { configPath: 'process.oomScoreAdj', file: `/proc/${started.pid}/oom_score_adj` });
          }
        }
        await opts.beforeRelease?.(started.pid);
      }
      if (msg.aux === STAGE.HOOKS) await opts.runtimeHooks?.(started.pid);
      sendMsg(syncFd, MSG.ACK);
    }
  } catch (err) {
    // Leave nothing behind: the child dies with its namespaces and mounts.
    addon.pidfdSignal(started.pidfd, os.signals.SIGKILL);
    await exited();
    started.release();
    throw err;
  } finally {
    closeSync(syncFd);
  }
  return started;
}
