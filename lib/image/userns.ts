// Rootless image work that must own files as other ids: unpacking a layer whose files belong
// to uid 1234, or removing such a tree again. As podman does, launch runs a helper in a new
// user namespace where the caller is root and the caller's subordinate ids (/etc/subuid, via
// newuidmap) are ids 1..N; there, chown to any mapped id works, and the files land on the
// host owned by subuid_start + id - 1, which is exactly what the container's own user
// namespace (the same maps) shows as `id` again.
//
// The helper is a program of the library's own (userns-helper.ts on the running Node), not
// the command line: launch used as a library has no bin/launch to run, and the helper needs
// none of the CLI. Only the single executable, which has one entry, runs itself with the
// helper's word (lib/cli/binary.ts takes it before the command line sees it).
//
// The helper is started with the runtime's own machinery (buildUsernsPlan: clone, the maps
// written at the first sync, exec) and reports through a result file, not its exit code
// alone: a LaunchError crosses over with its kind, code, file and errno intact. Its notes
// cross over in it too, for the caller's note callback: the helper's stderr is the calling
// process's own, which a program embedding launch may keep for itself. They arrive when the
// helper is done rather than as it goes, which a note can afford.
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LaunchError, hostError } from '../errors.js';
import type { HostFacts } from '../host.js';
import { buildUsernsPlan } from '../plan/build.js';
import type { IdMap, Mapping } from '../plan/idmap.js';
import { isBinary } from '../runtime/embedded.js';
import type { ExitStatus } from '../runtime/launcher.js';

/** The word the single executable's helper is started with (lib/cli/binary.ts, which keeps
 * its own copy of it); not part of the documented command line. */
export const USERNS_VERB = '__userns-job';

/** The maps an image's files are unpacked with, and its containers run with: the caller as
 * root, its first subordinate range as 1..N. Undefined as root (no namespace needed) or when
 * the caller has no range or no newuidmap/newgidmap (then files become the caller's own). */
export function imageIdMap(host: HostFacts): IdMap | undefined {
  if (host.uid === 0) return undefined;
  const u = host.subuid[0];
  const g = host.subgid[0];
  if (!u || !g || !host.newuidmap || !host.newgidmap) return undefined;
  const uid: Mapping[] = [{ containerID: 0, hostID: host.uid, size: 1 }, { containerID: 1, hostID: u.start, size: u.count }];
  const gid: Mapping[] = [{ containerID: 0, hostID: host.gid, size: 1 }, { containerID: 1, hostID: g.start, size: g.count }];
  return { uid, gid, uidMethod: 'helper', gidMethod: 'helper', setgroupsDeny: false };
}

/** Why files keep only the caller's id, for a note; undefined when imageIdMap has maps. */
export function noIdMapReason(host: HostFacts): string | undefined {
  if (host.uid === 0) return undefined;
  if (!host.subuid[0] || !host.subgid[0]) return `${host.userName ?? `uid ${host.uid}`} has no range in /etc/subuid and /etc/subgid`;
  if (!host.newuidmap || !host.newgidmap) return 'newuidmap/newgidmap are not installed (apt-get install uidmap)';
  return undefined;
}

export interface Job {
  op: string;
  /** Where the helper writes its JobResult. */
  resultFile: string;
  [more: string]: unknown;
}

type JobResult = ({ ok: true; value: unknown } | { ok: false; error: SerializedError }) & { notes?: string[] };

/** What a job's handler runs with in the helper: the job, and where its notes go. */
export type JobHandler = (job: Job, note: (msg: string) => void) => Promise<unknown>;

interface SerializedError {
  kind: LaunchError['kind'];
  message: string;
  code: string;
  configPath?: string;
  file?: string;
  errno?: number;
  exitCode: number;
}

/** How to start the helper with the job as its last word: the single executable is its own
 * program; otherwise the running Node runs the compiled userns-helper.js of this package
 * (dist/image, the same relative path from lib/image under vitest as from dist/image). */
function helperArgv(): string[] {
  if (isBinary()) return [process.execPath, USERNS_VERB];
  return [process.execPath, fileURLToPath(new URL('../../dist/image/userns-helper.js', import.meta.url))];
}

/** Run `args` as root of a new user namespace with `idmap`, in our environment and working
 * directory, and wait for it (`launch unshare`, and the helper below). */
export async function execInUserns(args: string[], host: HostFacts, idmap: IdMap): Promise<ExitStatus> {
  const { startContainer } = await import('../runtime/launcher.js');
  const env = Object.entries(process.env).map(([k, v]) => `${k}=${v}`);
  const plan = buildUsernsPlan({ args, env, cwd: process.cwd(), user: { uid: 0, gid: 0 } }, { host, idmap });
  const started = await startContainer(plan, { host });
  const status = await started.exited;
  started.release();
  return status;
}

/** Run `job` in the helper and return its value; its failure is rethrown here as it was, and
 * its notes are given to `note` first. */
export async function runInUserns(job: Job, host: HostFacts, idmap: IdMap, note: (msg: string) => void = () => {}): Promise<unknown> {
  try {
    const status = await execInUserns([...helperArgv(), JSON.stringify(job)], host, idmap);
    let result: JobResult | undefined;
    try {
      result = JSON.parse(readFileSync(job.resultFile, 'utf8')) as JobResult;
    } catch {
      result = undefined;
    }
    for (const msg of result?.notes ?? []) note(msg);
    if (result?.ok) return result.value;
    if (result) {
      const e = result.error;
      throw new LaunchError(e.kind, e.message, { code: e.code, configPath: e.configPath, file: e.file, errno: e.errno, exitCode: e.exitCode });
    }
    const how = status.signal ? `was killed by signal ${status.signal}` : `exited with status ${status.code}`;
    throw hostError(`the user-namespace helper for ${job.op} ${how} without a result`, { code: 'USERNS_HELPER' });
  } finally {
    rmSync(job.resultFile, { force: true });
  }
}

/** The helper's side: run the job with `handlers[op]`, and write its result and notes. */
export async function serveJob(text: string, handlers: Record<string, JobHandler>): Promise<number> {
  const job = JSON.parse(text) as Job;
  const notes: string[] = [];
  let result: JobResult;
  try {
    const handler = handlers[job.op];
    if (!handler) throw new Error(`unknown user-namespace job ${job.op}`);
    result = { ok: true, value: (await handler(job, (msg) => void notes.push(msg))) ?? null };
  } catch (err) {
    const e = err instanceof LaunchError ? err : hostError(`${job.op} failed: ${(err as Error).message}`, { cause: err });
    result = {
      ok: false,
      error: { kind: e.kind, message: e.message, code: e.code, configPath: e.configPath, file: e.file, errno: e.errno, exitCode: e.exitCode },
    };
  }
  writeFileSync(job.resultFile, JSON.stringify({ ...result, notes }), { mode: 0o600 });
  return result.ok ? 0 : 1;
}
