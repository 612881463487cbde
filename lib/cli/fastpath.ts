// The start-up fast path: the verbs scripts and containerd call once per container (run,
// create, start, state, kill, delete) in their plain forms, read without yargs, whose parse
// of this command line costs more than the rest of a `launch state`. Anything else — help,
// an unknown or repeated flag, a missing id, `--` — returns null, and yargs (parser.ts) reads
// the words and says what is wrong. test/unit/fastpath.test.ts checks that every command line
// taken here gives the handlers exactly what yargs gives them.
import { GLOBAL_FLAGS, takesNext } from './flags.js';
import type { Args } from './handlers.js';

type Kind = 'string' | 'boolean' | 'count';
interface Flag {
  name: string;
  kind: Kind;
  /** Values allowed (e.g. --log-format). */
  choices?: readonly string[];
}

let global: Record<string, Flag> | undefined;
/** The global flags (flags.ts), made on first use (no work at import time). */
function globalFlags(): Record<string, Flag> {
  global ??= Object.fromEntries(
    Object.entries(GLOBAL_FLAGS).map(([name, f]) => [`--${name}`, { name, kind: f.value ? 'string' : 'boolean', ...(f.choices ? { choices: f.choices } : {}) }]),
  );
  return global;
}

const BUNDLE: Record<string, Flag> = {
  '--bundle': { name: 'bundle', kind: 'string' },
  '-b': { name: 'bundle', kind: 'string' },
  '--pid-file': { name: 'pid-file', kind: 'string' },
  '--console-socket': { name: 'console-socket', kind: 'string' },
  // Kept as typed (a string option of yargs'), and checked by the verb (fds.ts).
  '--preserve-fds': { name: 'preserve-fds', kind: 'count' },
  '--no-pivot': { name: 'no-pivot', kind: 'boolean' },
  '--no-new-keyring': { name: 'no-new-keyring', kind: 'boolean' },
  '--ignore-cgroup-limits': { name: 'ignore-cgroup-limits', kind: 'boolean' },
};

interface Verb {
  flags: Record<string, Flag>;
  positionals: readonly string[];
  /** How many positionals must be given (the rest have defaults). */
  required: number;
  defaults: Record<string, unknown>;
}

const BUNDLE_DEFAULTS = { bundle: '.', 'preserve-fds': 0, 'no-pivot': false, 'no-new-keyring': false, 'ignore-cgroup-limits': false };
const ONE_ID = { positionals: ['id'], required: 1 } as const;

const VERBS: Record<string, Verb> = {
  run: {
    flags: { ...BUNDLE, '--detach': { name: 'detach', kind: 'boolean' }, '-d': { name: 'detach', kind: 'boolean' }, '--keep': { name: 'keep', kind: 'boolean' } },
    ...ONE_ID,
    defaults: { ...BUNDLE_DEFAULTS, detach: false, keep: false },
  },
  create: { flags: BUNDLE, ...ONE_ID, defaults: BUNDLE_DEFAULTS },
  start: { flags: {}, ...ONE_ID, defaults: {} },
  state: { flags: {}, ...ONE_ID, defaults: {} },
  delete: { flags: { '--force': { name: 'force', kind: 'boolean' }, '-f': { name: 'force', kind: 'boolean' } }, ...ONE_ID, defaults: { force: false } },
  kill: {
    flags: { '--all': { name: 'all', kind: 'boolean' }, '-a': { name: 'all', kind: 'boolean' } },
    positionals: ['id', 'signal'],
    required: 1,
    defaults: { all: false, signal: 'SIGTERM' },
  },
};

/** The verb and its words in yargs' shape, or null when yargs must read this command line. */
export function fastParse(argv: readonly string[]): { verb: string; args: Args } | null {
  let verb: Verb | undefined;
  let verbName = '';
  // The global flags' defaults, as yargs gives them (switches false).
  const args: Args = { _: [] };
  for (const [name, f] of Object.entries(GLOBAL_FLAGS)) if (!f.value || f.default !== undefined) args[name] = f.value ? f.default : false;
  const seen = new Set<string>();
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (!word.startsWith('-') || word === '-') {
      if (!verb) {
        verb = VERBS[word];
        if (!verb) return null;
        verbName = word;
        args._.push(word);
      } else positional.push(word);
      continue;
    }
    const eq = word.indexOf('=');
    const name = eq > 0 ? word.slice(0, eq) : word;
    const flag = globalFlags()[name] ?? verb?.flags[name];
    if (!flag || seen.has(flag.name)) return null;
    seen.add(flag.name);
    if (flag.kind === 'boolean') {
      // `--debug=false`, `--debug false`: yargs reads those.
      if (eq > 0 || takesNext(false, argv[i + 1])) return null;
      args[flag.name] = true;
      continue;
    }
    const value = eq > 0 ? word.slice(eq + 1) : argv[++i];
    if (value === undefined || value === '' || value.startsWith('-')) return null;
    if (flag.choices && !flag.choices.includes(value)) return null;
    // Anything but a plain count is yargs' to read, and the verb's to refuse.
    if (flag.kind === 'count' && !/^\d{1,5}$/.test(value)) return null;
    args[flag.name] = value;
  }
  if (!verb || positional.length < verb.required || positional.length > verb.positionals.length) return null;
  // A word yargs would read as a number is kept as typed by it (type: 'string'), as here.
  for (const [k, v] of Object.entries(verb.defaults)) if (!(k in args)) args[k] = v;
  verb.positionals.forEach((p, n) => {
    if (positional[n] !== undefined) args[p] = positional[n];
  });
  return { verb: verbName, args };
}
