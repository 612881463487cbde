// Run bin/launch as a given user, synchronously or as a child process to signal.
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TestRunner } from 'vitest';
import type { RunAs } from './env.js';
import { fileDir, ownedDir } from './bundle.js';

/** LAUNCH_BINARY=FILE runs the suite against the single executable (npm run build:binary)
 * instead of bin/launch on the Node running the tests; CI does both. */
export const BINARY = process.env.LAUNCH_BINARY ? resolve(process.env.LAUNCH_BINARY) : undefined;
/** The program callers run: bin/launch (the native front, then Node with bin/launch.js for
 * what the front does not take) or the binary. */
export const LAUNCH = BINARY ?? fileURLToPath(new URL('../../bin/launch', import.meta.url));
/** The Node entry itself, for a test that picks the Node that runs it. */
export const LAUNCH_JS = fileURLToPath(new URL('../../bin/launch.js', import.meta.url));

/** The words that start launch: [bin/launch] or [binary]; [node, bin/launch.js] when a test
 * asks for another Node than the one in PATH. */
export function launchWords(node?: string): string[] {
  if (BINARY) return [BINARY];
  return node ? [node, LAUNCH_JS] : [LAUNCH];
}

/** The same, quoted for a shell command line. */
export const launchShell = (): string => launchWords().map((w) => `"${w}"`).join(' ');

/** Waits scale with the machine: the cgroup-v2 guest (test/vm) is emulated, 10-30x slower. */
export const SLOW = process.env.LAUNCH_IN_VM ? 20 : 1;

export interface Result {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const stateRoots = new Map<string, string>();
let rootPerTest = false;

/** For a file that starts more bundles than a state root keeps compiled bundles of (64,
 * docs/compiled-bundles.md): a state root per test, so that a second pass of the suite under
 * LAUNCH_TEST_BASE finds its entries rather than starting each anew (the oldest removed
 * first, a pass that runs them in the same order again misses every one). */
export function stateRootPerTest(): void {
  rootPerTest = true;
}

/** A private --root for each mode (and test, after stateRootPerTest), so tests can check
 * that nothing is left in it. */
export function stateRoot(who: RunAs): string {
  const test = rootPerTest ? TestRunner.getCurrentTest() : undefined;
  const key = test ? `${who.mode} ${test.id}` : who.mode;
  let dir = stateRoots.get(key);
  if (!dir) {
    dir = join(test ? ownedDir(who, 'state') : fileDir(who, 'state'), 'root');
    stateRoots.set(key, dir);
  }
  return dir;
}

/** Remove the compiled bundles (docs/compiled-bundles.md) of `bundle` from `who`'s state
 * root, for a test of what Node says as it plans: a hit replays the plan without it. */
export function forgetCompiled(who: RunAs, bundle: string): void {
  const cache = join(stateRoot(who), '.compiled');
  if (!existsSync(cache)) return;
  for (const name of readdirSync(cache)) {
    // The entry's lookup field holds the bundle as typed, between NUL bytes.
    if (readFileSync(join(cache, name)).includes(`\0${bundle}\0`)) rmSync(join(cache, name), { force: true });
  }
}

function runtimeDir(who: RunAs): string {
  const dir = fileDir(who, 'xdg');
  mkdirSync(dir, { recursive: true });
  return dir;
}

const xdgDirs = new Map<string, string>();

export function spawnOptions(who: RunAs, extra: SpawnOptions = {}): SpawnOptions {
  let xdg = xdgDirs.get(who.mode);
  if (!xdg) {
    xdg = runtimeDir(who);
    xdgDirs.set(who.mode, xdg);
  }
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: who.home,
    USER: who.name,
    XDG_RUNTIME_DIR: xdg,
    ...(extra.env ?? {}),
  };
  // A delegated user's launch is started by root, which moves it into the leaf first.
  const asOther = who.uid !== process.getuid!() && !who.cgroupLeaf;
  return { ...extra, env, ...(asOther ? { uid: who.uid, gid: who.gid } : {}) };
}

/** The command line that runs launch as `who`: node directly, or, for a delegated user,
 * through a root shell that enters the user's leaf cgroup and then drops to the user. */
export function command(who: RunAs, args: string[], node?: string): [string, string[]] {
  const argv = [...launchWords(node), '--root', stateRoot(who), ...args];
  if (!who.cgroupLeaf) return [argv[0]!, argv.slice(1)];
  const script = 'leaf=$1 u=$2 g=$3; shift 3; echo $$ > "$leaf/cgroup.procs" && exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"';
  return ['/bin/sh', ['-c', script, 'sh', who.cgroupLeaf, String(who.uid), String(who.gid), ...argv]];
}

/** `launch --root <private> ARGS...`, through bin/launch unless another `node` is given. */
export function launchSync(
  who: RunAs,
  args: string[],
  opts: { input?: string | Buffer; stdio?: SpawnOptions['stdio']; node?: string; timeout?: number; cwd?: string; env?: NodeJS.ProcessEnv } = {},
): Result {
  const [file, argv] = command(who, args, opts.node);
  const r = spawnSync(file, argv, {
    ...spawnOptions(who, { cwd: opts.cwd, env: opts.env }),
    input: opts.input,
    stdio: opts.stdio ?? 'pipe',
    encoding: 'utf8',
    timeout: (opts.timeout ?? 30_000) * SLOW,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Run a bundle in the foreground with a fresh id. */
export function runBundle(who: RunAs, bundle: string, opts: Parameters<typeof launchSync>[2] & { id?: string } = {}): Result {
  const id = opts.id ?? `t-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  return launchSync(who, ['run', '--bundle', bundle, id], opts);
}

export function launchChild(who: RunAs, args: string[], stdio: SpawnOptions['stdio'] = 'pipe'): ChildProcess {
  const [file, argv] = command(who, args);
  return spawn(file, argv, { ...spawnOptions(who), stdio });
}

/** Resolve with the next chunk of `stream` that contains `text` (or reject after ms). */
export function waitFor(stream: NodeJS.ReadableStream, text: string, ms = 10_000): Promise<string> {
  ms *= SLOW;
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${JSON.stringify(text)}; saw ${JSON.stringify(seen)}`)), ms);
    const onData = (d: Buffer | string) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        stream.off('data', onData);
        resolve(seen);
      }
    };
    stream.on('data', onData);
  });
}

export function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
}

/** A verb whose container (or process) outlives it: its stdio goes to a file, not to a pipe
 * the container would hold open (spawnSync waits for every writer of a pipe, as `$(...)`). */
export function detachedVerb(who: RunAs, args: string[]): { status: number | null; log: string } {
  const file = join(ownedDir(who, 'log'), 'log');
  const fd = openSync(file, 'w');
  try {
    const r = launchSync(who, args, { stdio: ['ignore', fd, fd] });
    return { status: r.status, log: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

/** Poll `cond` (every 20 ms, scaled for the emulated guest) until it holds. */
export async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; i < 250 * SLOW; i++) {
    if (cond()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`timed out waiting until ${what}`);
}
