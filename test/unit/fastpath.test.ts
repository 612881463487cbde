// The start-up fast path must never disagree with yargs: for every command line it takes, the
// handlers get exactly what yargs would give them (the keys they read); what it declines, yargs
// reads (and may refuse).
import { describe, expect, it } from 'vitest';
import { fastParse } from '../../lib/cli/fastpath.js';
import type { Args } from '../../lib/cli/handlers.js';
import { buildParser } from '../../lib/cli/parser.js';

const KEYS = ['_', 'id', 'root', 'debug', 'systemd-cgroup', 'bundle', 'pid-file', 'console-socket', 'preserve-fds', 'no-pivot', 'no-new-keyring',
  'ignore-cgroup-limits', 'detach', 'keep', 'force', 'all', 'signal'];

async function viaYargs(argv: string[]): Promise<{ verb: string; args: Args } | null> {
  let got: { verb: string; args: Args } | null = null;
  try {
    await buildParser(argv, (verb) => async (args) => void (got = { verb, args }))
      .exitProcess(false)
      .fail((_msg, err) => {
        throw err ?? new Error(_msg);
      })
      .parseAsync();
  } catch {
    return null;
  }
  return got;
}

const pick = (a: Args) => Object.fromEntries(KEYS.filter((k) => a[k] !== undefined).map((k) => [k, a[k]]));

const TAKEN = [
  ['run', 'c1'],
  ['run', '--bundle', '/b', 'c1'],
  ['run', '-b', '/b', '--pid-file', '/p', '-d', 'c1'],
  ['--root', '/r', 'run', '--bundle=/b', '--keep', 'c1'],
  ['--root=/r', '--debug', 'run', 'c1', '--preserve-fds', '2', '--no-pivot', '--no-new-keyring'],
  ['run', '--ignore-cgroup-limits', '--detach', '--console-socket', '/s', 'c1'],
  ['--log', '/l', '--log-format', 'json', 'create', '--bundle', '/b', 'c2'],
  ['--systemd-cgroup', 'create', 'c2', '--pid-file=/p'],
  ['--rootless', 'false', 'create', 'c2'],
  ['start', 'c3'],
  ['state', '123'],
  ['kill', 'c4'],
  ['kill', 'c4', 'KILL'],
  ['kill', '--all', 'c4', '9'],
  ['kill', '-a', 'c4', 'SIGUSR1'],
  ['delete', 'c5'],
  ['delete', '-f', 'c5'],
  ['delete', 'c5', '--force', '--root', '/r'],
];

const DECLINED = [
  [], ['--help'], ['run', '--help'], ['run'], ['run', 'a', 'b'], ['run', '--bundle', 'c1'], ['run', '--bogus', 'c1'],
  ['run', '--bundle', '/a', '--bundle', '/b', 'c1'], ['run', '--preserve-fds', 'x', 'c1'], ['run', '--', 'c1'], ['run', '--detach=false', 'c1'],
  ['--log-format', 'xml', 'state', 'c'], ['--rootless', 'run', 'c'], ['exec', 'c', 'true'], ['list'], ['spec'], ['kill', 'c', 'TERM', 'x'],
  ['delete', '-fa', 'c'], ['start', '-', 'c'],
];

describe('fast path', () => {
  it.each(TAKEN.map((a) => [a]))('takes %j as yargs reads it', async (argv) => {
    const fast = fastParse(argv);
    expect(fast).not.toBeNull();
    const slow = await viaYargs(argv);
    expect(slow).not.toBeNull();
    expect(fast!.verb).toBe(slow!.verb);
    expect(pick(fast!.args)).toEqual(pick(slow!.args));
  });

  it.each(DECLINED.map((a) => [a]))('leaves %j to yargs', (argv) => {
    expect(fastParse(argv)).toBeNull();
  });
});
