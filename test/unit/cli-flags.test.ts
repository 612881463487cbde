// Every scanner that reads the command line before yargs (the exec `--`, the `launch DIR`
// shorthand, --version, the fast path, --log/--debug) must read each global flag as yargs
// does, in both `--flag value` and `--flag=value` forms: they share one table (flags.ts).
// Seen failing before the table (lib/cli of the commit before it, with flags.ts added): exec
// after `--rootless true|false|auto` (exec.ts lacked --rootless: the id was `true` and the
// command's `-c` --cap), `--debug false`, `--systemd-cgroup true` (a switch's `true`/`false`
// taken for the id, or for the bundle of `launch DIR`); `--log /l` after `--` (a command's own
// word) taken as launch's log file; yargs' number type for --preserve-fds.
import { describe, expect, it } from 'vitest';
import { fastParse } from '../../lib/cli/fastpath.js';
import { type FdLink, callerFdsFrom, listenFds, preserveFdsCount } from '../../lib/cli/fds.js';
import { GLOBAL_FLAGS, VERBS, scanGlobals } from '../../lib/cli/flags.js';
import { logTarget } from '../../lib/cli/log.js';
import { wantsVersion } from '../../lib/cli/main.js';
import { buildParser } from '../../lib/cli/parser.js';
import { prepare, viaYargs } from '../helpers/cli.js';


/** Each global flag given both ways, with what yargs then holds for it. */
const FORMS: [string[], string, unknown][] = [];
for (const [name, f] of Object.entries(GLOBAL_FLAGS)) {
  if (f.value) {
    for (const v of f.choices ?? ['/some/where']) FORMS.push([[`--${name}`, v], name, v], [[`--${name}=${v}`], name, v]);
  } else {
    FORMS.push([[`--${name}`], name, true], [[`--${name}`, 'false'], name, false], [[`--${name}=true`], name, true], [[`--${name}`, 'true'], name, true]);
  }
}
const same = (a: unknown, b: unknown) => expect(String(a)).toBe(String(b));

describe('global flags before the verbs that scan the words themselves', () => {
  it('the table is what yargs knows: every global flag, no other', async () => {
    const { args } = await viaYargs(['state', 'c1']);
    for (const name of Object.keys(GLOBAL_FLAGS)) expect(Object.keys(buildParser([], () => async () => {}).getOptions().key)).toContain(name);
    expect(args._).toEqual(['state']);
  });

  it('the verbs are yargs\' commands and its help, no other (`launch completion` was one that was none)', () => {
    const internal = (buildParser([], () => async () => {}) as unknown as { getInternalMethods(): { getCommandInstance(): { getCommands(): string[] } } }).getInternalMethods();
    expect([...internal.getCommandInstance().getCommands(), 'help'].sort()).toEqual([...VERBS].sort());
  });

  it.each(FORMS)('exec after %j: the id and the command (with its own -c) are kept', async (words, name, held) => {
    for (const argv of [[...words, 'exec', 'c1', 'sh', '-c', 'echo hi'], ['exec', ...words, 'c1', 'sh', '-c', 'echo hi']]) {
      const p = prepare(argv);
      expect(p.slice(p.indexOf('c1'))).toEqual(['c1', '--', 'sh', '-c', 'echo hi']);
      const { verb, args } = await viaYargs(p);
      expect([verb, args.id, args.cap, [...(args.command as string[] ?? []), ...args._.slice(1)]]).toEqual(['exec', 'c1', undefined, ['sh', '-c', 'echo hi']]);
      same(args[name], held);
      same(scanGlobals(p)[name], held);
    }
  });

  it.each(FORMS)('`launch %j DIR` is run --bundle DIR, as yargs reads the flag', async (words, name, held) => {
    const p = prepare([...words, 'b']);
    expect(p).toEqual([...words, 'run', '--bundle', 'b', 'ID']);
    const { verb, args } = await viaYargs(p);
    expect([verb, args.bundle, args.id]).toEqual(['run', 'b', 'ID']);
    same(args[name], held);
  });

  it.each(FORMS)('the fast path takes `%j run c1` as yargs does, or leaves it to yargs', async (words, name, held) => {
    const argv = [...words, 'run', 'c1'];
    const slow = await viaYargs(argv);
    same(slow.args[name], held);
    const fast = fastParse(argv);
    if (fast) {
      expect(fast.args.id).toBe('c1');
      same(fast.args[name], held);
    }
  });

  it.each(FORMS)('--version after %j', (words) => {
    expect(wantsVersion([...words, '--version'])).toBe(true);
    expect(wantsVersion([...words, 'state', '--version'])).toBe(false);
  });

  it('--log and --debug are launch\'s only before `--` (a command\'s own words are not)', () => {
    const p = prepare(['--log', '/l', '--log-format=json', 'exec', 'c1', 'sh', '--log', '/other', '--debug']);
    expect(logTarget(scanGlobals(p))).toEqual({ file: '/l', format: 'json' });
    expect(scanGlobals(p).debug).toBeUndefined();
    expect(scanGlobals(['--debug=false', 'state', 'c']).debug).toBe('false');
    // A value is never a flag (yargs: `--root --log x` has no root, and a log).
    expect(scanGlobals(['--root', '--log', 'x', 'state', 'c'])).toEqual({ root: '', log: 'x' });
  });

  it('exec\'s own switches and valued short flags as yargs reads them', async () => {
    for (const argv of [['exec', '-t', 'true', 'c1', 'ls'], ['exec', '--detach', 'false', 'c1', 'ls'], ['exec', '-tu', '0', 'c1', 'ls'], ['exec', '--user', '0', 'c1', 'ls'], ['exec', '--preserve-fds', '-1', 'c1', 'ls']]) {
      const p = prepare(argv);
      expect(p.slice(-3)).toEqual(['c1', '--', 'ls']);
      expect((await viaYargs(p)).args.id).toBe('c1');
    }
  });

  it('a bad --rootless value is one usage line, whichever parser read it', async () => {
    const { runHandler } = await import('../../lib/cli/handlers.js');
    const ctx = { setContext() {}, setExit() {}, setDebug() {} };
    for (const argv of [['--rootless', 'maybe', 'state', 'c1'], ['--rootless=1', 'state', 'c1']]) {
      const { verb, args } = fastParse(argv) ?? (await viaYargs(argv));
      await expect(runHandler(verb, args, ctx)).rejects.toThrow(/^--rootless must be one of auto, true, false, got `(maybe|1)`$/);
    }
  });
});

// Seen failing before: yargs read --preserve-fds as a number (2.5, Infinity, -1, NaN and 3
// for the five below), and the plan encoder's "internal error" followed for run/create.
describe('--preserve-fds values', () => {
  it.each(['2.5', '1e400', '-1', 'abc', '0x3', '', '65537', '1 '])('`%s` is refused naming it', (v) => {
    expect(() => preserveFdsCount(v)).toThrow(`--preserve-fds must be a number from 0 to 65536, got \`${v}\``);
  });
  it('whole numbers (and the default) are taken', () => {
    expect([preserveFdsCount(undefined), preserveFdsCount(0), preserveFdsCount('0'), preserveFdsCount('12'), preserveFdsCount('65536')]).toEqual([0, 0, 0, 12, 65536]);
  });
  it.each([['run', 'c1'], ['create', 'c1'], ['exec', 'c1', 'ls']])('yargs keeps the word as typed for %s', async (verb, ...rest) => {
    const { args } = await viaYargs(prepare([verb, '--preserve-fds', '0x3', ...rest]));
    expect(args['preserve-fds']).toBe('0x3');
  });
});

// Seen failing before: LISTEN_FDS counted whatever LISTEN_PID said (a LISTEN_PID of another
// process passed that process's fds on), and every fd in the range was passed, Node's own too.
describe('which fds are the caller\'s', () => {
  it('Node\'s event loop fds and self-pipes (both ends held) are not', () => {
    const links = new Map<number, FdLink>([
      [3, { link: 'anon_inode:[eventpoll]' }], [4, { link: 'anon_inode:[io_uring]' }], [5, { link: 'pipe:[100]', end: 'r' }], [6, { link: 'pipe:[100]', end: 'w' }],
      [7, { link: 'anon_inode:[eventfd]' }], [8, { link: '/etc/hostname' }], [9, { link: 'pipe:[200]', end: 'r' }], [10, { link: 'socket:[300]' }],
      [11, { link: '/dev/null' }], [12, { link: 'anon_inode:[eventfd]' }], [13, { link: 'anon_inode:[pidfd]' }],
      // Two copies of one end are the caller's (`3<&0 4<&0` with a pipe on stdin).
      [14, { link: 'pipe:[400]', end: 'w' }], [15, { link: 'pipe:[400]', end: 'w' }],
    ]);
    expect([...callerFdsFrom(links)]).toEqual([8, 9, 10, 11, 13, 14, 15]);
  });
  it('LISTEN_FDS is launch\'s only when LISTEN_PID is its own pid (sd_listen_fds, runc)', () => {
    expect(listenFds({ LISTEN_FDS: '2', LISTEN_PID: '42' }, 42)).toBe(2);
    expect(listenFds({ LISTEN_FDS: '2' }, 42)).toBe(0);
    expect(listenFds({ LISTEN_FDS: '2', LISTEN_PID: '41' }, 42)).toBe(0);
    expect(listenFds({ LISTEN_FDS: 'x', LISTEN_PID: '42' }, 42)).toBe(0);
    expect(listenFds({ LISTEN_FDS: '2', LISTEN_PID: '42x' }, 42)).toBe(0);
  });
});
