// Writes a list from values.ts into cgroupfs. Runs in the launch process (the parent), with
// whatever rights it has over the container's cgroup directories.
//
// Each value is one open(O_WRONLY|O_TRUNC) and one write(2): cgroupfs parses a write as one
// command, so a value must not be split or share a write with another. O_TRUNC is a no-op on
// kernfs (shells' `>` uses it) and makes a plain directory standing in for cgroupfs hold the
// last value written. No O_CREAT: the kernel creates every file with its directory, and a
// missing one means the controller is not enabled there or the knob does not exist on this
// kernel; creating a plain file would hide that. runc's tolerances travel with each write:
// `optional` (skip when missing), `fallback` (another file when missing), `retryAfter`
// (refused with EINVAL now, retried after another write).
import { closeSync, constants, openSync, writeSync } from 'node:fs';
import { constants as os } from 'node:os';
import { join } from 'node:path';
import { fromNodeError, nodeErrno, type LaunchError } from '../errors.js';
import type { CgroupWrite } from './values.js';

/** Writes `value` to the existing file `path`; throws the Node system error on failure. */
export type WriteFile = (path: string, value: string) => void;

export const writeCgroupFile: WriteFile = (path, value) => {
  const fd = openSync(path, constants.O_WRONLY | constants.O_TRUNC);
  try {
    const buf = Buffer.from(value);
    const n = writeSync(fd, buf, 0, buf.length);
    if (n !== buf.length) {
      // cgroupfs takes a write whole or fails it; a short write means this is not cgroupfs.
      throw Object.assign(new Error(`short write to ${path}`), { code: 'EIO', syscall: 'write' });
    }
  } finally {
    closeSync(fd);
  }
};

interface Failure {
  err: unknown;
  path: string;
  value: string;
}

// The caller's rights or the host's setup (controller not enabled or not delegated) are at
// fault for these; anything else (EINVAL, EBUSY, ENOSPC...) is this container's setup failing.
const HOST_ERRNOS = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOENT']);

function failure(w: CgroupWrite, f: Failure): LaunchError {
  const code = (f.err as NodeJS.ErrnoException | undefined)?.code ?? '';
  return fromNodeError(HOST_ERRNOS.has(code) ? 'host' : 'setup', `cannot write \`${f.value}\` to`, f.err, {
    code: 'CGROUP_WRITE',
    configPath: w.configPath,
    file: f.path,
  });
}

const { ENOENT, EINVAL } = os.errno;

/** Writes each entry to `<dirFor(controller)>/<file>`, in order. Throws a LaunchError naming
 * the config path, the file, the value and the errno of the first write that fails. `write`
 * is for tests (the default opens the file without O_CREAT). */
export function applyWrites(dirFor: (controller: string) => string, writes: readonly CgroupWrite[], write: WriteFile = writeCgroupFile): void {
  const attempt = (w: CgroupWrite): Failure | undefined => {
    const dir = dirFor(w.controller);
    const path = join(dir, w.file);
    try {
      write(path, w.value);
      return undefined;
    } catch (err) {
      if (nodeErrno(err) !== ENOENT) return { err, path, value: w.value };
      if (w.fallback) {
        const alt = join(dir, w.fallback.file);
        try {
          write(alt, w.fallback.value);
          return undefined;
        } catch (err2) {
          return { err: err2, path: alt, value: w.fallback.value };
        }
      }
      return w.optional ? undefined : { err, path, value: w.value };
    }
  };

  // Writes the kernel refused with EINVAL, waiting for the write named by their retryAfter.
  let deferred: { w: CgroupWrite; f: Failure }[] = [];
  for (const w of writes) {
    const f = attempt(w);
    if (f) {
      if (w.retryAfter !== undefined && nodeErrno(f.err) === EINVAL) {
        deferred.push({ w, f });
        continue;
      }
      throw failure(w, f);
    }
    const due = deferred.filter((d) => d.w.controller === w.controller && d.w.retryAfter === w.file);
    if (due.length === 0) continue;
    deferred = deferred.filter((d) => !due.includes(d));
    for (const d of due) {
      const again = attempt(d.w);
      if (again) throw failure(d.w, again);
    }
  }
  // The write they waited for never came: report the first refusal as it was.
  if (deferred[0]) throw failure(deferred[0].w, deferred[0].f);
}
