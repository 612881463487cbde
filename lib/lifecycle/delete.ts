// Deleting a container: remove what is left of a container whose launch process is gone
// (killed, or the machine's OOM killer): its cgroup and its state. With `force` a container
// that still runs, and whatever is left in its cgroup, is killed first, as runc.
// `launch delete` (lib/cli/delete.ts) calls this.
import { killCgroup, procsIn } from '../cgroups/control.js';
import { madeDirs, removeDirs } from '../cgroups/manager.js';
import { belongs } from '../cgroups/members.js';
import { LaunchError, stateError } from '../errors.js';
import { type WarnOption, runHooksSync, stderrWarn } from '../runtime/hooks.js';
import { stopHelper } from '../network/helper.js';
import { StateStore } from '../state/store.js';
import { isAlive, sleepSync } from '../state/proc.js';

export interface DeleteOptions extends WarnOption {
  /** The state root (--root). */
  root: string;
  id: string;
  /** Kill a container that still runs (and what is left in its cgroup) first; a container
   * that does not exist is then no error (runc delete --force). */
  force: boolean;
}

export async function deleteContainer(o: DeleteOptions): Promise<void> {
  const held: (() => void)[] = [];
  try {
    await deleteHolding(o, held);
  } finally {
    for (const release of held) release();
  }
}

/** deleteContainer's work; the lock it takes goes into `held`, for deleteContainer to
 * release however it ends. */
async function deleteHolding(o: DeleteOptions, held: (() => void)[]): Promise<void> {
  const store = new StateStore(o.root);
  const warn = o.warn ?? stderrWarn;
  let state;
  try {
    held.push(store.lock(o.id)); // held until done: no start or second delete in between
    state = store.read(o.id);
  } catch (err) {
    // As runc: --force makes deleting a container that does not exist (or whose create died
    // before writing its state) a success, so callers can clean up after a failed create.
    if (o.force && err instanceof LaunchError && err.kind === 'state') {
      // A launch killed before its state was written may have made the cgroups already; its
      // child dies with it (the sync socket closes), so they empty within moments.
      removeDirsPatiently(store.recordedCgroups(o.id));
      stopHelper(store.dir(o.id));
      store.remove(o.id);
      return;
    }
    throw err;
  }
  // The same pid with another start time is a recycled pid: the container is gone.
  const alive = state.pid !== undefined && isAlive(state.pid, state.started);
  // A created container (waiting for `start`) is deleted like a stopped one, as runc does.
  const created = state.status === 'created' || state.status === 'creating';
  if (alive && !o.force && !created) throw stateError(`cannot delete container \`${o.id}\` that is not stopped: running (use --force)`);
  // As runc's destroy: the init of a container without a pid namespace of its own leaves its
  // descendants running when it exits, and deleting the stopped container kills them; else the
  // cgroup could not go and the delete failed (containerd's shim deletes without --force).
  const leftovers = !alive && state.cgroup !== undefined && state.ns?.type !== 'pid';
  if (o.force || (alive && created) || leftovers) {
    // Everything of the container's in its cgroup, not only the init: without a pid namespace
    // of its own, or after launch was killed, its descendants outlive it. In a cgroup that was
    // there before, only the container's own (cgroups/members.ts).
    if (state.cgroup) killCgroup(state);
    if (alive) process.kill(state.pid!, 'SIGKILL');
    for (let i = 0; i < 500 && alive && isAlive(state.pid!, state.started); i++) sleepSync(10);
  }
  // The network helper (pasta, slirp4netns) of a container launch connected lives as long as
  // its state; then, as runc's destroy, the poststop hooks. Failures of those are warnings.
  // The hooks are those recorded at create: the bundle may have been edited, moved or removed.
  stopHelper(store.dir(o.id));
  runHooksSync(state.config?.hooks, 'poststop', { ...state, status: 'stopped' }, { warnOnly: true, warn });
  // --systemd-cgroup: the cgroup is a systemd unit; stopping it removes it (lib/cgroups/systemd.ts).
  const unit = state.cgroup?.systemd;
  if (unit) await (await import('../cgroups/systemd.js')).stopSystemdUnit(unit);
  // Only what launch made (manager.ts madeDirs): the container's own cgroups, waited for, then
  // the parents made for them, which stay while another container's cgroup is below them.
  const { own, parents } = madeDirs(state.cgroup);
  const left = removeDirsPatiently(own, own);
  for (const dir of left) {
    const procs = procsIn(dir);
    // Another container that joined it by its own cgroupsPath: the cgroup stays for it.
    if (procs.length > 0 && !procs.some((pid) => belongs(state, pid))) {
      warn(`launch: warning: delete ${o.id}: the cgroup \`${dir}\` holds processes that are not the container's (${procs.join(', ')}); left in place`);
      continue;
    }
    throw stateError(`the container's cgroup still has processes (${procs.join(', ')}); not removed:`, { file: dir });
  }
  removeDirs(parents);
  store.remove(o.id);
}

/** Remove cgroup directories, retrying for up to 2 s: a dead init's descendants leave its
 * cgroup a moment after it, and rmdir answers EBUSY till then. Returns those still there. */
function removeDirsPatiently(dirs: readonly string[], own: readonly string[] = []): string[] {
  let left = removeDirs(dirs, own);
  for (let i = 0; i < 200 && left.length > 0; i++) {
    sleepSync(10);
    left = removeDirs(left, own);
  }
  return left;
}
