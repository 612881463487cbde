// The command line: the words before parsing (`launch DIR`, `exec` words, `-r -`), then the
// fast path (fastpath.ts) or yargs (parser.ts, loaded only when needed), then the verb's
// handler (handlers.ts); and the one place errors are printed. Nothing here runs at import
// time (start-up snapshot rule): main() reads argv and env.
import { statSync } from 'node:fs';
import { LaunchError, formatError } from '../errors.js';
import { execArgv } from './exec.js';
import { fastParse } from './fastpath.js';
import { noteCallerFds } from './fds.js';
import { VERBS, firstWord, flagSpan, globalWords, scanGlobals } from './flags.js';
import { type Ctx, generatedId, runHandler } from './handlers.js';
import { logTarget, writeLog } from './log.js';
import { ignoreClosedOutput } from './stdio.js';

/** addon/front/entry.c hand_start_failure. */
const FRONT_START_FAILED = '__front-start-failed';

export interface GlobalOptions {
  root: string;
  debug: boolean;
  /** --systemd-cgroup: the container's cgroup is a transient systemd unit (lib/cgroups/systemd.ts). */
  systemdCgroup?: boolean;
}

/** `launch DIR` is `launch run --bundle DIR <generated id>`. The id goes right after DIR, not
 * at the end: a valued flag left without its value at the end (`launch DIR --pid-file`) would
 * take it. */
export function expandShorthand(argv: string[], isDir: (p: string) => boolean, makeId: () => string): string[] {
  const at = firstWord(argv);
  if (at < 0) return argv;
  const word = argv[at]!;
  if (VERBS.includes(word) || !isDir(word)) return argv;
  // Run flags given before DIR go after `run`, where yargs looks for them.
  const global: string[] = [];
  const run: string[] = [];
  for (let i = 0; i < at; ) {
    const { words, run: runFlag } = flagSpan(argv, i);
    (runFlag ? run : global).push(...argv.slice(i, i + words));
    i += words;
  }
  return [...global, 'run', ...run, '--bundle', word, makeId(), ...argv.slice(at + 1)];
}

/** yargs reads a lone `-` as a positional, not as a flag's value: `update --resources -`
 * (stdin, as runc) becomes `--resources=-`. */
export function joinDashValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if ((word === '--resources' || word === '-r') && argv[i + 1] === '-') {
      out.push('--resources=-');
      i++;
    } else out.push(word);
  }
  return out;
}

/** `--version` or `-v` before any verb. */
export function wantsVersion(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--version' || w === '-v') return true;
    if (!w.startsWith('-') || w === '--') return false;
    i += Math.max(1, globalWords(argv, i)) - 1;
  }
  return false;
}

export async function main(rawArgv: string[]): Promise<number> {
  ignoreClosedOutput();
  // The native front's `start` read a failure record from the init's exec FIFO (and removed
  // the FIFO): the same command line again, to word that failure from the container's state.
  if (rawArgv[0] === FRONT_START_FAILED) {
    (await import('./start.js')).frontStartFailure(rawArgv[1] ?? '');
    rawArgv = rawArgv.slice(2);
  }
  // Before launch opens any fd of its own: which fds its caller gave it (fds.ts).
  if (process.env.LISTEN_FDS !== undefined || rawArgv.some((w) => w.startsWith('--preserve-fds'))) noteCallerFds();
  if (wantsVersion(rawArgv)) {
    const { versionText } = await import('./version.js');
    process.stdout.write(`${versionText()}\n`);
    return 0;
  }
  let madeId: string | undefined;
  const argv = expandShorthand(
    execArgv(joinDashValues(rawArgv)),
    (p) => {
      try {
        return statSync(p).isDirectory();
      } catch {
        return false;
      }
    },
    () => (madeId = generatedId()),
  );
  // From the words as yargs will read them: after execArgv's `--`, a command's own `--log`
  // or `--debug` is not launch's.
  const globals = scanGlobals(argv);
  const log = logTarget(globals);
  let exitCode = 0;
  let context: string | undefined;
  let debug = globals.debug !== undefined && globals.debug !== 'false';
  const ctx: Ctx = {
    generatedId: madeId,
    setContext: (c) => void (context = c),
    setExit: (code) => void (exitCode = code),
    setDebug: (d) => void (debug = d),
  };
  try {
    const fast = fastParse(argv);
    if (fast) await runHandler(fast.verb, fast.args, ctx);
    else await (await import('./parser.js')).parseAndRun(argv, ctx);
    return exitCode;
  } catch (err) {
    if (err instanceof LaunchError && !err.context) err.context = context;
    const line = formatError(err, debug);
    process.stderr.write(`${line}\n`);
    writeLog(log, 'error', line.split('\n')[0]!.replace(/^launch: /, ''));
    return err instanceof LaunchError ? err.exitCode : 125;
  }
}

/** For the start-up snapshot (binary.ts): evaluate the modules of the hot verbs, and validate
 * both default configs once, so that zod has compiled its fast path of the schema (it does on
 * first use), and a start finds all of it ready. None of this reads argv, env or the addon. */
export async function warmUp(): Promise<void> {
  await Promise.all([import('./run.js'), import('./start.js'), import('./state.js'), import('./kill.js'), import('./delete.js')]);
  const { parseSpec } = await import('../spec/load.js');
  const { defaultSpec } = await import('../spec/generate.js');
  for (const rootless of [false, true]) parseSpec(JSON.parse(JSON.stringify(defaultSpec({ rootless, uid: 1000, gid: 1000 }))), 'config.json');
}
