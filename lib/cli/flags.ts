// The global flags, in one table: yargs' global options (parser.ts) and every scanner that
// reads the words before yargs does (the `launch DIR` shorthand and --version in main.ts, the
// exec `--` in exec.ts, the fast path, --log in log.ts, the verb of a usage error in usage.ts)
// are made from it. Scanners that each
// kept their own list disagreed on which flags take a value: `launch --rootless true exec c1
// sh -c x` had `true` read as the id, and the command's `-c` as exec's --cap. `run`'s flags
// are here too, for the shorthand, which moves those given before DIR after `run`.
// Nothing here runs at import time (start-up snapshot rule).

export interface GlobalFlag {
  /** Takes a value (`--root DIR`, `--root=DIR`); otherwise a switch. */
  value: boolean;
  /** The values allowed, checked for every verb (handlers.ts). */
  choices?: readonly string[];
  /** yargs' value when the flag is not given. */
  default?: string;
  describe: string;
}

export const GLOBAL_FLAGS: Readonly<Record<string, GlobalFlag>> = {
  root: { value: true, describe: 'directory for container state' },
  debug: { value: false, describe: 'explain decisions; show the cause of errors' },
  log: { value: true, describe: 'also write errors to this file (as runc: for containerd and podman)' },
  'log-format': { value: true, choices: ['text', 'json'], default: 'text', describe: 'format of the --log file' },
  // launch decides from the caller's uid and user namespace; runc's values are accepted.
  rootless: { value: true, choices: ['auto', 'true', 'false'], describe: 'auto|true|false, accepted for runc compatibility: launch decides from the caller\'s uid' },
  'systemd-cgroup': { value: false, describe: 'create the container\'s cgroup as a transient systemd unit (linux.cgroupsPath is slice:prefix:name)' },
};

/** Every flag of `run` (parser.ts; test/unit/shorthand.test.ts holds the two together), and
 * whether it takes a value: the shorthand `launch DIR` moves those given before DIR after
 * `run`, and must know which take the next word, so that a value is not taken for DIR (nor,
 * by firstWord, for the verb a usage error names: usage.ts). The ones meant for --image, and
 * --bundle itself, are run's too: their misuse is then worded as it is after `run`
 * (handlers.ts), not as unknown flags before the verb. */
export const RUN_FLAGS: Readonly<Record<string, boolean>> = {
  '--bundle': true, '-b': true, '--pid-file': true, '--console-socket': true, '--preserve-fds': true, '--network': true, '--publish': true, '-p': true,
  '--image': true, '--store': true,
  '--detach': false, '-d': false, '--keep': false, '--no-pivot': false, '--no-new-keyring': false, '--ignore-cgroup-limits': false,
  '--tty': false, '-t': false, '--tls-verify': false,
};

/** yargs-parser's test for a word that is a value although it starts with `-`. */
const NEGATIVE = /^-([0-9]+(\.[0-9]+)?|\.[0-9]+)$/;

/** Whether a long flag (`--name`, no `=`) takes the next word, as yargs-parser decides: a
 * valued flag takes it unless it looks like a flag (a negative number does not); a switch
 * takes a following `true` or `false` (`--debug false exec ...`). */
export function takesNext(value: boolean, next: string | undefined): boolean {
  if (next === undefined) return false;
  if (!value) return next === 'true' || next === 'false';
  return !next.startsWith('-') || NEGATIVE.test(next);
}

/** A global flag word: its name, its table entry, and the value given after `=` if any. */
export function globalFlag(word: string): { name: string; flag: GlobalFlag; inline?: string } | undefined {
  if (!word.startsWith('--')) return undefined;
  const eq = word.indexOf('=');
  const name = eq > 0 ? word.slice(2, eq) : word.slice(2);
  const flag = Object.hasOwn(GLOBAL_FLAGS, name) ? GLOBAL_FLAGS[name] : undefined;
  if (!flag) return undefined;
  return eq > 0 ? { name, flag, inline: word.slice(eq + 1) } : { name, flag };
}

/** How many words the global flag at argv[i] spans (1 or 2); 0 when it is not one. */
export function globalWords(argv: readonly string[], i: number): number {
  const g = globalFlag(argv[i]!);
  if (!g) return 0;
  return g.inline === undefined && takesNext(g.flag.value, argv[i + 1]) ? 2 : 1;
}

/** The value of each global flag before `--`, as yargs would read it (the last one given
 * wins; a switch is `true` unless given `false`), for what must be known before parsing
 * (--log, --debug). Words of the verbs are skipped as unknown flags and positionals. */
export function scanGlobals(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < argv.length; i++) {
    const w = argv[i]!;
    if (w === '--') break;
    const g = globalFlag(w);
    if (!g) continue;
    let value = g.inline;
    if (value === undefined && takesNext(g.flag.value, argv[i + 1])) value = argv[++i]!;
    out[g.name] = value ?? (g.flag.value ? '' : 'true');
  }
  return out;
}

/** The verbs: yargs' commands (parser.ts) and its `help`. A word that is one is never the DIR
 * of `launch DIR`, and a word that is not one is named in the error when it is no DIR either. */
export const VERBS: readonly string[] = [
  'run', 'create', 'start', 'exec', 'kill', 'list', 'features', 'spec', 'demo', 'state', 'delete', 'events', 'pause', 'resume', 'ps', 'update',
  'pull', 'unpack', 'images', 'rmi', 'unshare', 'help',
];

/** The flag word at argv[i]: how many words it spans (its value word is no bundle and no
 * verb), and whether it is one of run's (those go after `run` in `launch DIR`). */
export function flagSpan(argv: readonly string[], i: number): { words: number; run: boolean } {
  const word = argv[i]!;
  const name = word.split('=')[0]!;
  if (!Object.hasOwn(RUN_FLAGS, name)) return { words: Math.max(1, globalWords(argv, i)), run: false };
  return { words: name === word && takesNext(RUN_FLAGS[name]!, argv[i + 1]) ? 2 : 1, run: true };
}

/** The index of the first word that is neither a flag nor a flag's value (the verb, or the DIR
 * of `launch DIR`), or -1 when there is none before `--`. */
export function firstWord(argv: readonly string[]): number {
  for (let i = 0; i < argv.length; i += flagSpan(argv, i).words) {
    const word = argv[i]!;
    if (word === '--') return -1;
    if (!word.startsWith('-')) return i;
  }
  return -1;
}
