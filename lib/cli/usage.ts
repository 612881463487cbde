// A command line yargs refused, as one line in launch's words (docs/errors.md). yargs' own
// messages are several lines (`Invalid values:` and one indented line per flag), capitalised,
// and say `Unknown argument: rnu` for a misspelt verb and for a `launch DIR` whose DIR does
// not exist alike. Loaded with the parser, and run only once it has failed.
import { statSync } from 'node:fs';
import { constants } from 'node:os';
import { type LaunchError, nodeErrno, usageError } from '../errors.js';
import { VERBS, firstWord } from './flags.js';

/** yargs' demandCommand message: with no verb yargs saw, even when a word looked like one to
 * firstWord (`launch -h list`: an unknown -h took `list` as its value). */
export const NO_COMMAND = 'no command given (see launch --help)';

/** What each verb's required positionals are, for `launch kill` without them (yargs counts them). */
const NEEDS: Record<string, string> = { pull: 'an image reference', unpack: 'an image and a bundle directory' };

/** Optimal string alignment distance: Levenshtein's, plus the swap of two neighbours as one
 * edit (`rnu` is one from `run`, not two). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The verbs nearest `word`, if any is within two edits; and fewer edits than `word` has
 * letters, or every two-letter word would be `ps`. */
export function nearVerbs(word: string): string[] {
  const lower = word.toLowerCase();
  const scored = VERBS.map((v) => [v, editDistance(lower, v)] as const).filter(([, d]) => d <= 2 && d < word.length);
  const best = Math.min(...scored.map(([, d]) => d));
  return scored.filter(([, d]) => d === best).map(([v]) => v);
}

/** A word of the command line in backticks; an empty one as the shell would write it. */
const tick = (w: string) => `\`${w === '' ? "''" : w}\``;

/** The first word is no verb: a misspelt one, or the DIR of `launch DIR` (main.ts) that is
 * not a directory. A word with a `/` is a path whatever it resembles. */
function notAVerb(word: string): LaunchError {
  let errno: number | undefined;
  try {
    if (!statSync(word).isDirectory()) errno = constants.errno.ENOTDIR;
  } catch (err) {
    errno = nodeErrno(err);
  }
  const near = word.includes('/') ? [] : nearVerbs(word);
  if (errno !== undefined && (word.includes('/') || (!near.length && errno !== constants.errno.ENOENT))) return usageError('bundle directory', { file: word, errno });
  if (near.length) return usageError(`unknown command ${tick(word)}; did you mean ${near.map(tick).join(' or ')}?`);
  return usageError(`${tick(word)} is neither a command nor a bundle directory (see launch --help)`);
}

/** yargs-parser's `foo-bar` also comes as `fooBar`: one flag, named once. */
const camel = (name: string) => name.replace(/-+([a-z])/g, (_, c: string) => c.toUpperCase());

/** `Unknown arguments: x, yy, foo`: which were flags (`-x`, `--yy=1`) and which words. */
function unknown(list: string, words: readonly string[], see: string): string {
  const names = list.split(', ').map((n) => (/^".*"$/.test(n) ? (JSON.parse(n) as string) : n));
  const typed = new Set<string>();
  for (const w of words) {
    if (w.startsWith('--')) typed.add(w.slice(2).split('=')[0]!);
    else if (w.startsWith('-')) for (const c of w.slice(1).split('=')[0]!) typed.add(c);
  }
  const flags: string[] = [];
  const extra: string[] = [];
  for (const n of names) {
    if (!typed.has(n) && words.includes(n)) extra.push(n);
    else if (!names.some((other) => other !== n && camel(other) === n)) flags.push(n.length === 1 ? `-${n}` : `--${n}`);
  }
  const parts: string[] = [];
  if (flags.length) parts.push(`unknown flag${flags.length > 1 ? 's' : ''} ${flags.map(tick).join(', ')}`);
  if (extra.length) parts.push(`unexpected argument${extra.length > 1 ? 's' : ''} ${extra.map(tick).join(', ')}${see}`);
  return parts.join('; ');
}

/** yargs' JSON-quoted list (`"a", "b"`) back to the values. */
const values = (list: string) => (list.match(/"(?:[^"\\]|\\.)*"|[^,\s][^,]*/g) ?? []).map((v) => (v.startsWith('"') ? (JSON.parse(v) as string) : v.trim()));

/** `Invalid values:` and one `Argument: format, Given: "yaml", Choices: "table", "json"` line
 * per flag, as handlers.ts words a bad --rootless. */
function choices(msg: string): string | undefined {
  const lines = msg.split('\n').slice(1).map((l) => /^\s*Argument: (.+?), Given: (.*), Choices: (.*)$/.exec(l));
  if (!lines.length || lines.some((m) => !m)) return undefined;
  return lines
    .map((m) => {
      const given = values(m![2]!);
      const got = given.length === 1 && given[0] === '' ? 'an empty value' : given.map(tick).join(', ');
      return `--${m![1]} must be one of ${values(m![3]!).join(', ')}, got ${got}`;
    })
    .join('; ');
}

/** The one line for yargs' failure `msg` on `argv` (the words it read), naming the verb. */
export function commandLineError(argv: readonly string[], msg: string): LaunchError {
  const at = firstWord(argv);
  const verb = at < 0 ? undefined : argv[at]!;
  if (verb !== undefined && !VERBS.includes(verb)) return notAVerb(verb);
  if (msg === NO_COMMAND) return usageError(NO_COMMAND);
  const words = argv.slice(at + 1);
  const see = verb ? ` (see launch ${verb} --help)` : '';
  let m: RegExpExecArray | null;
  let what: string | undefined;
  if ((m = /^Unknown arguments?: (.*)$/s.exec(msg))) what = unknown(m[1]!, words, see);
  else if (msg.startsWith('Invalid values:')) what = choices(msg);
  else if (/^(Not enough non-option arguments|Missing required arguments?):/.test(msg)) what = `give ${(verb && NEEDS[verb]) ?? 'a container id'}${see}`;
  // Anything else yargs may say, still on one line and in launch's case.
  what ??= msg.replace(/\s*\n\s*/g, '; ').replace(/^[A-Z](?![A-Z])/, (c) => c.toLowerCase());
  const err = usageError(what);
  err.context = verb;
  return err;
}
