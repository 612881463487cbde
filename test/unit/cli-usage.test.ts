// Every command line launch refuses is one line in its own words (docs/errors.md), exit 125.
// Seen failing before: yargs' words came out as they were (`launch: Unknown arguments: rnu, x`,
// `launch: Unknown argument: ./nosuchdir` for a `launch DIR` without the DIR, `launch: Invalid
// values:\n  Argument: format, ...` with a literal `\n`, `Not enough non-option arguments:
// got 0, need at least 1`), and in French or German as LANG said; and run's own usage errors
// named the verb twice (`launch: run: run: give a container id`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { main } from '../../lib/cli/main.js';
import { VERBS } from '../../lib/cli/flags.js';
import { editDistance, nearVerbs } from '../../lib/cli/usage.js';

const dir = mkdtempSync(join(tmpdir(), 'launch-usage-'));
const file = join(dir, 'config.json');
writeFileSync(file, '{}');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** main() on `argv`: its exit status and what it wrote to stderr. */
async function launch(argv: string[], env: Record<string, string> = {}): Promise<{ status: number; stderr: string }> {
  let stderr = '';
  const write = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
  Object.assign(process.env, env);
  try {
    return { status: await main(argv), stderr };
  } finally {
    write.mockRestore();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

const CASES: [string[], string][] = [
  // A near miss of a verb: within two edits, a swap of neighbours being one.
  [['rnu', 'x'], 'launch: unknown command `rnu`; did you mean `run`?'],
  [['strat', 'c1'], 'launch: unknown command `strat`; did you mean `start`?'],
  [['stat', 'c1'], 'launch: unknown command `stat`; did you mean `start` or `state`?'],
  [['RUN', 'c1'], 'launch: unknown command `RUN`; did you mean `run`?'],
  [['imgaes'], 'launch: unknown command `imgaes`; did you mean `images`?'],
  [['delte', 'c1'], 'launch: unknown command `delte`; did you mean `delete`?'],
  [['--root', '/tmp/r', 'kil', 'c1'], 'launch: unknown command `kil`; did you mean `kill`?'],
  [['x'], 'launch: `x` is neither a command nor a bundle directory (see launch --help)'],
  [['container', 'c1'], 'launch: `container` is neither a command nor a bundle directory (see launch --help)'],
  // `launch DIR` whose DIR is not there, or not a directory; run flags before it are skipped.
  [['./nosuchdir'], 'launch: bundle directory `./nosuchdir`: No such file or directory (ENOENT)'],
  [['-d', '-p', '8080:80', './nosuchdir'], 'launch: bundle directory `./nosuchdir`: No such file or directory (ENOENT)'],
  [['run/'], 'launch: bundle directory `run/`: No such file or directory (ENOENT)'],
  [[file], `launch: bundle directory \`${file}\`: Not a directory (ENOTDIR)`],
  // Flags and words a verb does not take.
  [['list', '--bogus'], 'launch: list: unknown flag `--bogus`'],
  [['list', '--foo-bar'], 'launch: list: unknown flag `--foo-bar`'],
  [['list', '-x', '--yy=3', 'foo'], 'launch: list: unknown flags `-x`, `--yy`; unexpected argument `foo` (see launch list --help)'],
  [['state', 'c1', 'c2'], 'launch: state: unexpected argument `c2` (see launch state --help)'],
  [['list', ''], "launch: list: unexpected argument `''` (see launch list --help)"],
  // A value outside a flag's choices, as a bad --rootless is worded (handlers.ts).
  [['list', '--format', 'yaml'], 'launch: list: --format must be one of table, json, got `yaml`'],
  // (ps's flags come before the id: the words after it are ps(1)'s, as runc.)
  [['ps', '--format=yaml', 'c1'], 'launch: ps: --format must be one of table, json, got `yaml`'],
  [['list', '--format', 'a', '--format', 'b'], 'launch: list: --format must be one of table, json, got `a`, `b`'],
  [['list', '--format='], 'launch: list: --format must be one of table, json, got an empty value'],
  [['--log-format', 'xml', 'state', 'c1'], 'launch: state: --log-format must be one of text, json, got `xml`'],
  // What a verb needs and did not get.
  [['state'], 'launch: state: give a container id (see launch state --help)'],
  [['kill'], 'launch: kill: give a container id (see launch kill --help)'],
  [['exec'], 'launch: exec: give a container id (see launch exec --help)'],
  [['pull'], 'launch: pull: give an image reference (see launch pull --help)'],
  [['unpack', 'busybox'], 'launch: unpack: give an image and a bundle directory (see launch unpack --help)'],
  [['run'], 'launch: run: give a container id (or --image IMAGE)'],
  [['run', '--tty', 'c1'], 'launch: run c1: --tty is for --image; a bundle says so in process.terminal'],
  [['run', 'c1', '--', 'sh'], 'launch: run c1: words after the id (`sh`) are only taken with --image'],
  [['run', '--image', 'busybox', '--bundle', 'b'], 'launch: run: --image and --bundle name the same thing; give one'],
  [[], 'launch: no command given (see launch --help)'],
  // An unknown flag takes the next word as its value: yargs saw no verb.
  [['-h', 'list'], 'launch: no command given (see launch --help)'],
];

describe('command-line errors', () => {
  it.each(CASES)('%j: one line in launch\'s words, exit 125', async (argv, line) => {
    expect(await launch(argv)).toEqual({ status: 125, stderr: `${line}\n` });
  });

  it.each([{ LC_ALL: 'fr_FR.UTF-8' }, { LANG: 'de_DE.UTF-8' }])('in English whatever the locale (%j)', async (env) => {
    expect(await launch(['list', '--format', 'yaml'], env)).toEqual({ status: 125, stderr: 'launch: list: --format must be one of table, json, got `yaml`\n' });
    expect(await launch(['state'], env)).toEqual({ status: 125, stderr: 'launch: state: give a container id (see launch state --help)\n' });
  });
});

describe('did you mean', () => {
  it('a swap of neighbours is one edit', () => {
    expect([editDistance('rnu', 'run'), editDistance('run', 'run'), editDistance('ab', 'ba'), editDistance('kitten', 'sitting')]).toEqual([1, 0, 1, 3]);
  });
  it.each(VERBS.filter((v) => v.length > 2))('every swap and every dropped letter of `%s` suggests it', (verb) => {
    for (let i = 0; i < verb.length; i++) {
      expect(nearVerbs(verb.slice(0, i) + verb.slice(i + 1))).toContain(verb);
      if (i + 1 < verb.length) expect(nearVerbs(verb.slice(0, i) + verb[i + 1] + verb[i] + verb.slice(i + 2))).toContain(verb);
    }
  });
  it('nothing for a word far from every verb, or as short as the edits', () => {
    for (const w of ['x', 'ab', 'container', 'foo', 'launch']) expect(nearVerbs(w)).toEqual([]);
  });
});
