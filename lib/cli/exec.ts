// `launch exec [FLAGS] ID [COMMAND [ARG...]]`: run a new process in a running container, as
// runc exec. The process is the container config's with the flags applied, or with
// --process FILE a whole runtime-spec `process` document.
// Only light modules at the top: main.ts imports execArgv from here on every start.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError, stateError, usageError } from '../errors.js';
import { capNumber } from '../plan/caps.js';
import type { ExecFlags } from '../runtime/exec.js';
import type { Process } from '../spec/schema.js';
import { checkCallerFds, preserveFdsCount } from './fds.js';
import { globalWords, takesNext } from './flags.js';
import type { GlobalOptions } from './main.js';

export interface ExecVerbOptions extends GlobalOptions {
  id: string;
  /** COMMAND [ARG...] (the words after the id, `--` included or not). */
  command?: string[];
  process?: string;
  tty?: boolean;
  cwd?: string;
  /** Repeatable flags: yargs gives one value as a string, several as an array. */
  env?: string | string[];
  user?: string;
  additionalGids?: number | string | (number | string)[];
  cap?: string | string[];
  noNewPrivs?: boolean;
  apparmor?: string;
  processLabel?: string;
  detach?: boolean;
  pidFile?: string;
  consoleSocket?: string;
  preserveFds?: number | string;
  ignorePaused?: boolean;
}

const MAX_ID = 2 ** 32 - 1;

const list = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

// exec's own flags that take a value (runc's names, those launch lacks included, so that the
// word after them is never taken for the id) and its switches; the global ones are flags.ts'.
const VALUE_FLAGS = ['process', 'cwd', 'env', 'user', 'additional-gids', 'cap', 'pid-file', 'preserve-fds', 'console-socket', 'pidfd-socket', 'cgroup', 'apparmor', 'process-label'];
const SWITCHES = ['tty', 'detach', 'no-new-privs', 'ignore-paused'];
const VALUE_LETTERS = 'peugc';
const SWITCH_LETTERS = 'td';

/** How many words the option at argv[i] spans (1 or 2), as yargs-parser reads it. */
function optionWords(argv: readonly string[], i: number): number {
  const w = argv[i]!;
  const next = argv[i + 1];
  const global = globalWords(argv, i);
  if (global) return global;
  if (w.startsWith('--')) {
    if (w.includes('=')) return 1;
    const name = w.slice(2);
    if (VALUE_FLAGS.includes(name)) return takesNext(true, next) ? 2 : 1;
    return SWITCHES.includes(name) && takesNext(false, next) ? 2 : 1;
  }
  // A cluster of short flags (-td, -tu 0): a value letter takes the rest of the word, or the
  // next word when it is last; a last switch letter takes a `true`/`false` after it.
  for (let k = 1; k < w.length; k++) {
    if (VALUE_LETTERS.includes(w[k]!)) return k === w.length - 1 && next !== undefined && (!/^--?[^-]/.test(next) || takesNext(true, next)) ? 2 : 1;
  }
  return SWITCH_LETTERS.includes(w[w.length - 1]!) && takesNext(false, next) ? 2 : 1;
}

/** How many words the option at argv[i] of `ps` spans: its one flag with a value is
 * --format (-f). */
function psOptionWords(argv: readonly string[], i: number): number {
  const global = globalWords(argv, i);
  if (global) return global;
  return (argv[i] === '--format' || argv[i] === '-f') && argv[i + 1] !== undefined ? 2 : 1;
}

/** runc reads `exec [FLAGS] ID COMMAND...` with the flags before the id only: `sh -c x` after
 * it is the command's own. yargs would take that `-c` for --cap, so a `--` goes in after the
 * id (main.ts calls this before parsing, as joinDashValues). runc's `ps [FLAGS] ID [PS_OPTIONS]`
 * is read the same way (`runc ps ID -o pid,comm` runs `ps -o pid,comm`): the words after its
 * id are ps's, with or without launch's own `--`. */
export function execArgv(argv: readonly string[]): string[] {
  let i = 0;
  let verb: string | undefined;
  for (; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') return [...argv];
    if (w.startsWith('-') && w !== '-') {
      i += (verb === 'ps' ? psOptionWords : optionWords)(argv, i) - 1;
      continue;
    }
    if (verb) break; // the id
    if (w !== 'exec' && w !== 'ps') return [...argv];
    verb = w;
  }
  if (i >= argv.length - 1 || argv[i + 1] === '--') return [...argv];
  return [...argv.slice(0, i + 1), '--', ...argv.slice(i + 1)];
}

function id(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > MAX_ID) throw usageError(`${what} must be a number from 0 to ${MAX_ID}, got \`${text}\``);
  return Number(text);
}

/** The flags (all but --process) as runc exec reads them. */
export function parseExecFlags(o: ExecVerbOptions): ExecFlags {
  const flags: ExecFlags = { args: o.command ?? [], tty: o.tty, noNewPrivs: o.noNewPrivs, apparmor: o.apparmor, processLabel: o.processLabel };
  if (o.cwd !== undefined) {
    if (!o.cwd.startsWith('/')) throw usageError(`--cwd must be an absolute path, got \`${o.cwd}\``);
    flags.cwd = o.cwd;
  }
  flags.env = list(o.env).map((e) => {
    if (e.indexOf('=') <= 0) throw usageError(`--env must be KEY=VALUE, got \`${e}\``);
    return e;
  });
  if (o.user !== undefined) {
    const [uid, gid, extra] = o.user.split(':');
    if (extra !== undefined || !uid) throw usageError(`--user must be UID[:GID], got \`${o.user}\``);
    flags.user = { uid: id(uid, '--user uid'), ...(gid !== undefined ? { gid: id(gid, '--user gid') } : {}) };
  }
  flags.additionalGids = list(o.additionalGids).map((g) => id(String(g), '--additional-gids'));
  flags.caps = list(o.cap).map((c) => {
    if (capNumber(c) === undefined) throw usageError(`--cap: unknown capability \`${c}\``);
    return `CAP_${c.toUpperCase().replace(/^CAP_/, '')}`;
  });
  return flags;
}

/** --process FILE: the whole process, used as it is (runc takes none of the flags then). */
async function readProcessFile(file: string): Promise<Process> {
  const { issueError, parseJson } = await import('../spec/load.js');
  const { ProcessSchema } = await import('../spec/schema.js');
  const { dedupEnv } = await import('../runtime/exec.js');
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw fromNodeError('usage', 'cannot read the process file', err, { file });
  }
  const result = ProcessSchema.safeParse(parseJson(text, file), { reportInput: true });
  if (!result.success) throw issueError(result.error.issues, file);
  return { ...result.data, env: dedupEnv(result.data.env ?? []) };
}

export async function execVerb(o: ExecVerbOptions): Promise<number> {
  const withProcess = o.process !== undefined;
  if (withProcess) {
    const extra = [
      o.command?.length && 'COMMAND', o.tty && '--tty', o.cwd !== undefined && '--cwd', list(o.env).length && '--env', o.user !== undefined && '--user',
      list(o.additionalGids).length && '--additional-gids', list(o.cap).length && '--cap', o.noNewPrivs && '--no-new-privs',
      o.apparmor !== undefined && '--apparmor', o.processLabel !== undefined && '--process-label',
    ].filter(Boolean);
    if (extra.length) throw usageError(`--process gives the whole process: ${extra.join(', ')} cannot be added to it`);
  } else if (!o.command?.length) {
    throw usageError('needs a COMMAND to run (or --process FILE)');
  }
  const flags = withProcess ? undefined : parseExecFlags(o);
  const fds = preserveFdsCount(o.preserveFds);
  checkCallerFds(3, fds, `--preserve-fds ${fds}`);

  const { currentState } = await import('./state.js');
  const state = currentState(o, o.id);
  // runc: a created container (its init waits for `start`) takes an exec; a paused one would
  // leave the process frozen, so it is refused unless asked for.
  if (state.status === 'paused' && !o.ignorePaused) throw stateError(`container \`${o.id}\` is paused (resume it, or use --ignore-paused)`);
  if (state.status !== 'running' && state.status !== 'created' && state.status !== 'paused') throw stateError(`container \`${o.id}\` is not running`);

  let process_: Process;
  const { execInContainer, execProcess } = await import('../runtime/exec.js');
  if (flags) {
    // The config's process as recorded at create, not config.json now: its owner could
    // otherwise hand the next exec (run by root, maybe) capabilities the container never had.
    const base = state.config?.process;
    if (!base) throw stateError('the container has no recorded process to start from (give one with --process)', { file: join(o.root, o.id, 'state.json') });
    process_ = execProcess(base, flags);
  } else {
    process_ = await readProcessFile(o.process!);
  }
  return execInContainer({
    state,
    process: process_,
    detach: o.detach,
    pidFile: o.pidFile,
    consoleSocket: o.consoleSocket,
    preserveFds: fds,
    debug: o.debug ? (line) => process.stderr.write(`launch: debug: ${line}\n`) : undefined,
  });
}
