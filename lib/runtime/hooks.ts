// OCI hooks (runtime-spec config.md "POSIX-platform Hooks"). prestart, createRuntime, poststart
// and poststop run here, in the runtime's namespaces; createContainer and startContainer run in
// the container's, forked by its init (RUN_HOOK, lib/plan/build.ts), and their failures come
// back as child errors, worded here too. Each hook gets the container's state on its stdin;
// its stdout and stderr go to launch's stderr (the container's stdout is the container's).
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { constants as os } from 'node:os';
import { join } from 'node:path';
import { type LaunchError, formatError, nodeErrno, setupError } from '../errors.js';
import { HOOK_FAIL } from '../plan/ops.js';
import type { Hook, Hooks } from '../spec/schema.js';
import { type ContainerState, ociState } from '../state/store.js';

export type HookName = 'prestart' | 'createRuntime' | 'createContainer' | 'startContainer' | 'poststart' | 'poststop';

/** How a hook ended, when it did not succeed. */
export type HookFailure = { errno: number } | { code: number } | { signal: number } | { timedOut: true };

export const hookInput = (s: ContainerState): string => JSON.stringify(ociState(s));

/** The one line that names the hook: `hooks.createRuntime[0]: hook `/x` exited with status 1`. */
export function hookError(configPath: string, path: string, timeout: number | undefined, f: HookFailure): LaunchError {
  if ('errno' in f) return setupError('cannot run hook', { configPath, file: path, errno: f.errno });
  if ('code' in f) return setupError(`hook \`${path}\` exited with status ${f.code}`, { configPath });
  if ('signal' in f) {
    const name = Object.entries(os.signals).find(([, n]) => n === f.signal)?.[0] ?? `signal ${f.signal}`;
    return setupError(`hook \`${path}\` was killed by ${name}`, { configPath });
  }
  return setupError(`hook \`${path}\` timed out after ${timeout}s`, { configPath });
}

/** The failure of a RUN_HOOK op, from the child's error record (LP_HOOK_* in aux). */
export function childHookFailure(errno: number, aux: number): HookFailure {
  const kind = aux & 0xffff0000;
  if (kind === HOOK_FAIL.EXITED) return { code: aux & 0xffff };
  if (kind === HOOK_FAIL.SIGNALED) return { signal: aux & 0xffff };
  if (kind === HOOK_FAIL.TIMEDOUT) return { timedOut: true };
  return { errno };
}

/** The hook's environment: its NAME=value entries (others are dropped), or undefined for
 * launch's own, as runc (Go's exec.Cmd with a nil Env); `[]` is an empty one. Shared with the
 * monitor, which runs poststop hooks after a foreground run (monitor.ts). */
export const hookEnvEntries = (hook: Hook): string[] | undefined => hook.env?.filter((e) => e.indexOf('=') > 0);

/** The hook's timeout in seconds, undefined for none. A timer past 2^31-1 ms fires at once in
 * Node: such a timeout is as good as none (the monitor takes it so too). */
export const hookTimeout = (hook: Hook): number | undefined => (hook.timeout && hook.timeout * 1000 < 2 ** 31 ? hook.timeout : undefined);

function hookEnv(hook: Hook): NodeJS.ProcessEnv | undefined {
  const entries = hookEnvEntries(hook);
  if (!entries) return undefined;
  const env: NodeJS.ProcessEnv = {};
  for (const e of entries) {
    const eq = e.indexOf('=');
    env[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return env;
}

const timeoutMs = (hook: Hook) => {
  const s = hookTimeout(hook);
  return s === undefined ? undefined : s * 1000;
};

function spawnArgs(hook: Hook) {
  const argv = hook.args?.length ? hook.args : [hook.path];
  return { args: argv.slice(1), opts: { argv0: argv[0], env: hookEnv(hook), stdio: ['pipe', 2, 2] as ['pipe', number, number] } };
}

function runOne(hook: Hook, input: string): Promise<HookFailure | undefined> {
  const { args, opts } = spawnArgs(hook);
  return new Promise((resolve) => {
    const child = spawn(hook.path, args, opts);
    let timedOut = false;
    const ms = timeoutMs(hook);
    const timer = ms === undefined ? undefined : setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), ms);
    const done = (f: HookFailure | undefined) => {
      clearTimeout(timer);
      resolve(f);
    };
    child.on('error', (err) => done({ errno: nodeErrno(err) ?? os.errno.EIO }));
    child.on('exit', (code, signal) =>
      done(timedOut ? { timedOut: true } : signal ? { signal: os.signals[signal] } : code ? { code } : undefined),
    );
    // A hook need not read its state: EPIPE is no failure.
    child.stdin?.on('error', () => {});
    child.stdin?.end(input);
  });
}

function runOneSync(hook: Hook, input: string): HookFailure | undefined {
  const { args, opts } = spawnArgs(hook);
  const r = spawnSync(hook.path, args, { ...opts, input, timeout: timeoutMs(hook), killSignal: 'SIGKILL' });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ETIMEDOUT') return { timedOut: true };
  // A hook need not read its state (as runOne): one that exits first makes the write EPIPE,
  // and spawnSync still reports how it ended.
  if (r.error && !(code === 'EPIPE' && (r.status !== null || r.signal))) return { errno: nodeErrno(r.error) ?? os.errno.EIO };
  if (r.signal) return { signal: os.signals[r.signal] };
  return r.status ? { code: r.status } : undefined;
}

/** Where launch's warnings go: one `launch: warning: ...` line each, without its newline (a
 * network that fell back to loopback only, a cgroup shared with or left to other processes,
 * a failed poststart or poststop hook). By default process.stderr (stderrWarn), as the
 * command line prints them; a program embedding launch may want them elsewhere. The one
 * declaration of the option: the runtime's, the lifecycle's and the library's options extend it. */
export interface WarnOption {
  warn?: (line: string) => void;
}

export interface RunHooksOptions extends WarnOption {
  /** poststart, poststop: a failure is a warning and the next hook runs (as runc, the spec). */
  warnOnly?: boolean;
}

/** Where warnings go unless the caller says (the command line's stderr). */
export const stderrWarn = (line: string): void => void process.stderr.write(`${line}\n`);

function failed(name: HookName, i: number, hook: Hook, f: HookFailure, opts: RunHooksOptions): void {
  const err = hookError(`hooks.${name}[${i}]`, hook.path, hook.timeout, f);
  if (!opts.warnOnly) throw err;
  (opts.warn ?? stderrWarn)(`launch: warning: ${formatError(err).replace(/^launch: /, '')}`);
}

/** Run the hooks of one list in order; the first failure throws, unless warnOnly. */
export async function runHooks(hooks: Hooks | undefined, name: HookName, state: ContainerState, opts: RunHooksOptions = {}): Promise<void> {
  const list = hooks?.[name] ?? [];
  for (const [i, hook] of list.entries()) {
    const f = await runOne(hook, hookInput(state));
    if (f) failed(name, i, hook, f, opts);
  }
}

/** runHooks for the verbs that stay synchronous (`start`): nothing else runs meanwhile. */
export function runHooksSync(hooks: Hooks | undefined, name: HookName, state: ContainerState, opts: RunHooksOptions = {}): void {
  const list = hooks?.[name] ?? [];
  for (const [i, hook] of list.entries()) {
    const f = runOneSync(hook, hookInput(state));
    if (f) failed(name, i, hook, f, opts);
  }
}

/** The stdin of the in-container hooks: one file per list in the (claimed) state directory,
 * opened read-only before the clone so that the child inherits the fd (plan arg), written at
 * the first sync once the pid is known, and unlinked then: the child's fd keeps it, also for
 * startContainer when `create` has exited. Each hook reads it from the start (the child seeks). */
export class HookStateFiles {
  readonly fds: { createContainer: number; startContainer: number };
  private readonly paths: string[];
  private closed = false;

  constructor(dir: string) {
    this.paths = ['createContainer', 'startContainer'].map((n) => join(dir, `hook-${n}.json`));
    const [create, start] = this.paths.map((p) => {
      writeFileSync(p, '', { mode: 0o600 });
      return openSync(p, 'r');
    });
    this.fds = { createContainer: create!, startContainer: start! };
  }

  /** runc's statuses: `creating` while the container is made, `created` before its exec. */
  write(state: ContainerState): void {
    writeFileSync(this.paths[0]!, hookInput({ ...state, status: 'creating' }));
    writeFileSync(this.paths[1]!, hookInput({ ...state, status: 'created' }));
    for (const p of this.paths) rmSync(p, { force: true });
  }

  /** Ours only: the child has its own copies since the clone. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fds.createContainer);
    closeSync(this.fds.startContainer);
  }
}

/** Whether the plan needs HookStateFiles. */
export const hasContainerHooks = (hooks: Hooks | undefined): boolean => Boolean(hooks?.createContainer?.length || hooks?.startContainer?.length);
