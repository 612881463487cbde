// The record `create` (and a foreground `run`) leaves in the state directory for the native
// front (addon/front): everything `state`, `start`, `kill`, `delete`, `pause` and `resume` need,
// decided here, so that the front only executes. Written once, atomically, when the container
// is created; the status is never in it: both paths derive it the same way (state.ts
// currentState, StateStore.read).
//
// Format (addon/front/record.c reads it): the line FRONT_RECORD_MAGIC, then the fields below,
// in this order, each `KEY LEN\nVALUE\n` where LEN counts VALUE's bytes. A record of another
// version, or one the front cannot read, sends the verb to Node.
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freezerOf, procsController } from '../cgroups/control.js';
import { madeDirs } from '../cgroups/manager.js';
import { isShared } from '../cgroups/members.js';
import { fromNodeError } from '../errors.js';
import { type ContainerState, ociState } from './store.js';

/** Must equal FRONT_RECORD_MAGIC in addon/front/front.h. */
export const FRONT_RECORD_MAGIC = 'launch-front 1\n';
export const FRONT_RECORD = 'front';

/** `launch state`'s JSON around its status and pid lines: the front prints head, the status
 * line, the pid line unless stopped, then tail. */
export function stateTemplate(state: ContainerState & { pid: number }): { head: string; tail: string } {
  const full = JSON.stringify(ociState({ ...state, status: 'running' }), null, 2);
  const marker = `\n  "status": "running",\n  "pid": ${state.pid},\n`;
  const at = full.indexOf(marker);
  if (at < 0) throw new Error('front record: the state JSON has no status and pid lines');
  return { head: full.slice(0, at + 1), tail: full.slice(at + marker.length) };
}

/** A delete the front does alone: no poststop hooks, no systemd unit to stop, paths it can
 * list one a line. Killing (--force, or a created container) with a cgroup, a network helper
 * to stop, or a cgroup that will not go are decided at delete time, and left to Node then. */
function deleteNative(state: ContainerState, own: string[], parents: string[]): boolean {
  return !state.config?.hooks?.poststop?.length && !state.cgroup?.systemd && ![...own, ...parents].some((d) => d.includes('\n'));
}

/** cgroup.procs of the directory control.ts cgroupProcs reads, or ''. */
function cgroupProcsFile(state: ContainerState): string {
  const d = state.cgroup?.dirs[procsController(state.cgroup)];
  return d ? join(d, 'cgroup.procs') : '';
}

/** pause and resume the front does alone: a freezer to write, and a cgroup launch made (in a
 * shared one, the refusal names the others: Node's). */
function pauseNative(state: ContainerState, freezerStatus: string): boolean {
  return Boolean(state.cgroup && freezerStatus && cgroupProcsFile(state) && !isShared(state.cgroup) && !freezerStatus.includes('\n'));
}

export function frontRecord(state: ContainerState & { pid: number; started: number }): Buffer {
  const { head, tail } = stateTemplate(state);
  const { own, parents } = madeDirs(state.cgroup);
  // The file that says frozen (v2: cgroup.events, beside the cgroup.freeze the front writes).
  const freezer = state.cgroup && freezerOf(state.cgroup);
  const frozen = { file: freezer?.status ?? '', v2: state.cgroup?.version === 2 };
  const fields: [string, string][] = [
    ['pid', String(state.pid)],
    ['started', String(state.started)],
    ['cgroup', state.cgroup ? '1' : '0'],
    ['frozen-v2', frozen.v2 ? '1' : '0'],
    // poststart hooks run in Node: the front leaves such a start to it.
    ['start-native', state.config?.hooks?.poststart?.length ? '0' : '1'],
    ['delete-native', deleteNative(state, own, parents) ? '1' : '0'],
    ['pause-native', pauseNative(state, frozen.file) ? '1' : '0'],
    ['frozen', frozen.file],
    // pause: the processes to check, and the pid namespace that tells the container's (members.ts).
    ['procs', cgroupProcsFile(state)],
    ['ns-pid', state.ns?.type === 'pid' ? state.ns.link : ''],
    // delete: the container's own cgroups, then the parents launch made for them (delete.ts).
    ['rmdirs', own.join('\n')],
    ['parents', parents.join('\n')],
    ['head', head],
    ['tail', tail],
  ];
  const parts = [Buffer.from(FRONT_RECORD_MAGIC)];
  for (const [key, value] of fields) {
    const bytes = Buffer.from(value);
    parts.push(Buffer.from(`${key} ${bytes.length}\n`), bytes, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** Written beside state.json, by rename: a reader sees all of it or none. A state without a
 * start time (its init gone before it was read) gets none: such a container is Node's. */
export function writeFrontRecord(dir: string, state: ContainerState): void {
  if (state.pid === undefined || state.started === undefined) return;
  const file = join(dir, FRONT_RECORD);
  const tmp = join(dir, `.${FRONT_RECORD}.${process.pid}`);
  try {
    writeFileSync(tmp, frontRecord(state as ContainerState & { pid: number; started: number }), { mode: 0o600 });
    renameSync(tmp, file);
  } catch (err) {
    throw fromNodeError('state', 'cannot write the state', err, { file });
  }
}
