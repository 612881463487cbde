// Signalling a container: its init, or with `all` every process of the container's in its
// cgroup, as runc kill, except that in a cgroup shared with others they are spared
// (cgroups/members.ts). `launch kill` (lib/cli/kill.ts) calls this.
import { constants } from 'node:os';
import { cgroupExists, containerPids, setFrozen } from '../cgroups/control.js';
import { stateError, usageError } from '../errors.js';
import { lockedState } from './state.js';

/** "TERM", "SIGTERM", "sigterm" or "15" -> 15. */
export function parseSignal(text: string): number {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    if (n <= 64) return n; // 0 probes, as kill(2)
  } else {
    const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
    const n = (constants.signals as Record<string, number>)[name];
    if (n !== undefined) return n;
  }
  throw usageError(`unknown signal \`${text}\` (a name like TERM or SIGKILL, or a number 0-64)`);
}

export interface KillOptions {
  /** The state root (--root). */
  root: string;
  id: string;
  /** A name (TERM, SIGTERM) or number; SIGTERM when absent. */
  signal?: string | number;
  /** Every process of the container's in its cgroup, not only the init (runc kill --all). */
  all?: boolean;
}

/** Send the signal; throws when the container is not running (a stopped container's init
 * cannot be signalled: "container not running", the words containerd's shim looks for),
 * except with `all`, which signals what the container left in its cgroup, as runc. */
export function kill(o: KillOptions): void {
  const signal = parseSignal(String(o.signal ?? 'SIGTERM'));
  const { state, release } = lockedState(o.root, o.id);
  try {
    // "container not running": containerd's shim recognises these words (and "does not exist")
    // and treats the kill as done.
    if (state.status === 'stopped' || state.pid === undefined) {
      // As runc (libcontainer Signal): `kill --all` of a stopped container signals what is
      // left of it in its cgroup and succeeds, also when nothing is left or there is no cgroup.
      // containerd's runc shim runs exactly that (KillAll, SIGKILL) once the init of a
      // container without a pid namespace of its own has exited, to kill the init's
      // descendants, then `delete`: refusing it left them running and the delete failing.
      if (o.all) {
        if (state.cgroup && cgroupExists(state)) signalEach(containerPids(state), signal);
        return;
      }
      throw stateError(`cannot kill container \`${o.id}\`: container not running`);
    }
    const pids = o.all && state.cgroup ? containerPids(state) : [state.pid];
    signalEach(pids, signal, state.pid);
    // As runc: SIGKILL to a paused container thaws it too. A frozen task (cgroup v1's freezer)
    // does not act on the signal until thawed, so the container stayed `paused` for good, and
    // a caller stopping it (containerd's kill, then its wait for the exit) waited forever.
    // Best effort, as runc: the signal was sent.
    if (state.status === 'paused' && signal === constants.signals.SIGKILL) {
      try {
        setFrozen(state, false);
      } catch {
        /* the freezer will not thaw: the kill is still pending for when it does */
      }
    }
  } finally {
    release();
  }
}

/** Send `signal` to each pid; one that has exited since the cgroup was read is skipped, unless
 * it is `init`, the process the caller asked for. */
function signalEach(pids: readonly number[], signal: number, init?: number): void {
  for (const pid of pids) {
    try {
      process.kill(pid, signal);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ESRCH' || pid === init) {
        throw stateError(`cannot signal the container's process ${pid}: ${code === 'ESRCH' ? 'no such process' : (err as Error).message}`);
      }
    }
  }
}
