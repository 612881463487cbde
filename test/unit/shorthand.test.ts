// `launch DIR` is `launch run --bundle DIR <generated id>`, and every flag `run` takes works
// before DIR and after it, as yargs then reads it. Seen failing before (issue 18): `launch DIR
// -p 8082:80` (--publish took the generated id as a second port: "give a container id"), and
// `-t`, `--tty`, `--image`, `--store`, `--tls-verify`, `-b` before DIR (read as global flags:
// "Unknown arguments: t, bundle, launch-..."); a trailing `DIR --pid-file` with no value took
// the generated id for the file's name.
import { describe, expect, it, vi } from 'vitest';
import { fastParse } from '../../lib/cli/fastpath.js';
import { GLOBAL_FLAGS, RUN_FLAGS } from '../../lib/cli/flags.js';
import { buildParser } from '../../lib/cli/parser.js';
import { prepare, viaYargs } from '../helpers/cli.js';

// What the run handler hands the verb, without starting anything.
const runs: Record<string, unknown>[] = [];
vi.mock('../../lib/cli/run.js', () => ({ runVerb: async (o: Record<string, unknown>) => (runs.push(o), 0) }));

/** Each of run's flags, in each form, and what yargs must then hold under its name. */
const FORMS: [string[], string, unknown][] = [
  [['-d'], 'detach', true],
  [['--detach'], 'detach', true],
  [['--keep'], 'keep', true],
  [['--pid-file', '/p'], 'pid-file', '/p'],
  [['--pid-file=/p'], 'pid-file', '/p'],
  [['--console-socket', '/s'], 'console-socket', '/s'],
  [['--preserve-fds', '2'], 'preserve-fds', '2'],
  [['--preserve-fds=2'], 'preserve-fds', '2'],
  [['--no-pivot'], 'no-pivot', true],
  [['--no-new-keyring'], 'no-new-keyring', true],
  [['--ignore-cgroup-limits'], 'ignore-cgroup-limits', true],
  [['--network', 'pasta'], 'network', 'pasta'],
  [['--network=none'], 'network', 'none'],
  [['-p', '8082:80'], 'publish', ['8082:80']],
  [['--publish', '8082:80'], 'publish', ['8082:80']],
  [['--publish=8082:80'], 'publish', ['8082:80']],
  [['-p', '8082:80', '-p', '127.0.0.1:53:53/udp'], 'publish', ['8082:80', '127.0.0.1:53:53/udp']],
  // Meant for --image, and refused without it (handlers.ts): read as run's all the same.
  [['-t'], 'tty', true],
  [['--tty'], 'tty', true],
  [['--image', 'busybox'], 'image', 'busybox'],
  [['--store', '/st'], 'store', '/st'],
  [['--tls-verify=false'], 'tls-verify', false],
  [['--tls-verify', 'false'], 'tls-verify', false],
  // DIR is the bundle already: the handler refuses a second one (handlers.ts).
  [['-b', '/other'], 'bundle', ['/other', 'b']],
  [['--bundle', '/other'], 'bundle', ['/other', 'b']],
];

describe('`launch DIR` with run\'s flags', () => {
  it('the table of run flags the shorthand knows is every flag yargs knows for run', async () => {
    let known: string[] = [];
    const parser = buildParser(['run', 'c1'], () => async () => void (known = Object.keys(parser.getOptions().key)));
    await parser.exitProcess(false).parseAsync();
    const global = new Set([...Object.keys(GLOBAL_FLAGS), 'help', 'id']);
    const dashed = known.filter((k) => !global.has(k)).map((k) => (k.length === 1 ? `-${k}` : `--${k}`));
    expect(Object.keys(RUN_FLAGS).sort()).toEqual(dashed.sort());
  });

  for (const [words, name, held] of FORMS) {
    const cases: [string, string[], string[]][] = [
      ['before', [...words, 'b'], ['run', ...words, '--bundle', 'b', 'ID']],
      ['after', ['b', ...words], ['run', '--bundle', 'b', 'ID', ...words]],
      ['before, after a global flag,', ['--root', '/r', ...words, 'b'], ['--root', '/r', 'run', ...words, '--bundle', 'b', 'ID']],
    ];
    for (const [where, argv, expanded] of cases) {
      it(`${words.join(' ')} ${where} DIR`, async () => {
        const p = prepare(argv);
        expect(p).toEqual(expanded);
        const { verb, args } = await viaYargs(p);
        // Two bundles come in the order given: compare them as a set.
        const got = name === 'bundle' ? [...(args.bundle as string[])].sort() : args[name];
        expect([verb, args.id, got]).toEqual(['run', 'ID', held]);
        if (name !== 'bundle') expect(args.bundle).toBe('b');
        // The fast path, where it takes the words, reads them as yargs does.
        const fast = fastParse(p);
        if (fast) expect([fast.verb, fast.args.id, fast.args.bundle, fast.args[name]]).toEqual(['run', 'ID', 'b', held]);
      });
    }
  }

  it('the generated id comes right after DIR: a valued flag at the end never takes it', async () => {
    expect(prepare(['b', '--pid-file'])).toEqual(['run', '--bundle', 'b', 'ID', '--pid-file']);
    expect((await viaYargs(prepare(['b', '--pid-file']))).args.id).toBe('ID');
    expect(prepare(['b', 'extra'])).toEqual(['run', '--bundle', 'b', 'ID', 'extra']);
  });

  // Seen before: "Unknown arguments: t, bundle, launch-..." for the first three, and the
  // handler's own messages began with a second `run:` after the context's.
  it.each([
    [['-t', 'b'], '--tty is for --image; a bundle says so in process.terminal'],
    [['--image', 'busybox', 'b'], '--image and --bundle name the same thing; give one'],
    [['-b', '/other', 'b'], '--bundle is given 2 times (`/other`, `b`); give one'],
    [['b', '--bundle', '/other'], '--bundle is given 2 times (`b`, `/other`); give one'],
    [['run', '--bundle', 'b'], 'give a container id (or --image IMAGE)'],
  ])('%j is refused in one line, before anything runs', async (argv, message) => {
    const { runHandler } = await import('../../lib/cli/handlers.js');
    const ctx = { setContext() {}, setExit() {}, setDebug() {} };
    const { verb, args } = await viaYargs(prepare(argv));
    await expect(runHandler(verb, args, ctx)).rejects.toMatchObject({ kind: 'usage', message });
  });
});

// Issue 18, point 6: `launch -d DIR` returned without a word, and its container could be found
// only with `launch list`. The id is printed when launch made it up (run.ts), never when the
// caller chose it (runc's and containerd's callers read nothing from run's stdout).
describe('which ids launch made up', () => {
  it.each([
    [['b'], 'ID', true],
    [['-d', 'b'], 'ID', true],
    [['b', '--detach'], 'ID', true],
    [['run', '--image', 'busybox', '-d'], undefined, true],
    [['run', '-d', '--bundle', 'b', 'c1'], undefined, false],
    [['run', '-d', '--image', 'busybox', 'c1'], undefined, false],
    // An id typed by the caller that happens to look like launch's is still the caller's.
    [['run', '-d', '--bundle', 'b', 'ID'], undefined, false],
  ])('%j, with the shorthand\'s id %s', async (argv, made, generated) => {
    const { runHandler } = await import('../../lib/cli/handlers.js');
    const ctx = { setContext() {}, setExit() {}, setDebug() {}, generatedId: made };
    const { verb, args } = await viaYargs(prepare(argv));
    await runHandler(verb, args, ctx);
    expect(runs.at(-1)).toMatchObject({ idGenerated: generated });
    if (made) expect(runs.at(-1)!.id).toBe(made);
  });
});
