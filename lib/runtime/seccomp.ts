// The runtime's side of linux.seccomp: the compiler the plan builder calls (the addon's
// libseccomp, with a cache), and the hand-over of a notify fd to linux.seccomp.listenerPath.
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError } from '../errors.js';
import type { Compiled, SeccompCompiler } from '../plan/seccomp.js';
import { type ContainerState, ociState } from '../state/store.js';
import { native } from './native.js';

/** The cache's directory in a state root (a dot name: `list` and ids never see it). */
export const SECCOMP_CACHE = '.seccomp-cache';
const CACHE_MAX = 32;

/** libseccomp needs ~25 ms for Docker's profile on x86_64 (three ABIs, hundreds of names),
 * more than the rest of a start; the same profile compiles to the same program. So programs
 * are kept in `cacheDir` (the caller's state root: 0700 and theirs, on tmpfs as a rule), named
 * by a hash of libseccomp's version and the whole input. A cache that cannot be read or
 * written only costs the compile. */
export const seccompCompiler = (cacheDir?: string): SeccompCompiler => ({
  compile: (defaultAction, archs, rules) => {
    const addon = native();
    if (!cacheDir) return addon.compileSeccomp(defaultAction, archs, rules);
    // node:crypto on first use only: loading it with the module would put OpenSSL's glue into
    // the start-up snapshot that every start of the binary deserializes.
    const { createHash } = process.getBuiltinModule('node:crypto');
    const key = createHash('sha256')
      .update(JSON.stringify([addon.seccompVersion(), defaultAction, archs, rules], (_, v) => (typeof v === 'bigint' ? `${v}n` : v)))
      .digest('hex');
    const file = join(cacheDir, `${key}.json`);
    const cached = readCached(file);
    if (cached) return cached;
    const out = addon.compileSeccomp(defaultAction, archs, rules);
    writeCached(cacheDir, file, out);
    return out;
  },
  flagsSupported: (flags) => native().seccompFlagsSupported(flags),
});

function readCached(file: string): Compiled | undefined {
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as { bpf?: unknown; unknown?: unknown };
    if (typeof c.bpf !== 'string' || !Array.isArray(c.unknown) || !c.unknown.every((i) => Number.isInteger(i))) return undefined;
    const bpf = Buffer.from(c.bpf, 'base64');
    return bpf.length > 0 && bpf.length % 8 === 0 ? { bpf, unknown: c.unknown as number[] } : undefined;
  } catch {
    return undefined;
  }
}

function writeCached(dir: string, file: string, out: Compiled): void {
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const tmp = `${file}.${process.pid}`;
    writeFileSync(tmp, JSON.stringify({ bpf: Buffer.from(out.bpf).toString('base64'), unknown: out.unknown }), { mode: 0o600 });
    renameSync(tmp, file);
    const names = readdirSync(dir);
    if (names.length > CACHE_MAX) {
      // The oldest go: a few profiles are in use at a time.
      const byAge = names.map((n) => ({ n, t: statSync(join(dir, n)).mtimeMs })).sort((a, b) => a.t - b.t);
      for (const { n } of byAge.slice(0, names.length - CACHE_MAX)) rmSync(join(dir, n), { force: true });
    }
  } catch {
    /* a read-only or full state root: compile each time */
  }
}

/** Send the listener fd to the seccomp agent at `path`, with the container process state of
 * config-linux.md ("fds": ["seccompFd"]) as the message, as runc does. */
export function sendSeccompFd(listener: { path: string; metadata: string }, fd: number, state: ContainerState): void {
  const message = {
    ociVersion: state.ociVersion,
    fds: ['seccompFd'],
    pid: state.pid,
    metadata: listener.metadata,
    state: ociState(state),
  };
  try {
    native().sendFd(listener.path, fd, JSON.stringify(message));
  } catch (err) {
    throw fromNodeError('setup', 'cannot hand the seccomp notify fd to', err, { configPath: 'linux.seccomp.listenerPath', file: listener.path });
  }
}
