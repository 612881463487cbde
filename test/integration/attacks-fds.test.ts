// Only the fds launch's caller gave it reach the container: --preserve-fds N and LISTEN_FDS
// pass fds 3.. of launch's own table, where Node keeps its event loop (epoll, io_uring,
// eventfds, self-pipes) in the lowest numbers the caller left free. Given to the container,
// those let it write into launch's loop: 16 bytes into one made a root `launch exec` segfault.
// Protection: main() notes the caller's fds before launch opens any (lib/cli/fds.ts), and a fd
// of the range that is not one of them is a usage error before anything is made; LISTEN_FDS
// counts only when LISTEN_PID is launch's pid (as runc and sd_listen_fds). Checked: with
// checkCallerFds() returning at once, the first three tests failed (`exec --preserve-fds 3`
// gave the process anon_inode:[eventpoll], [io_uring] and a pipe of launch's; run and create
// went ahead), and with listenFds() ignoring LISTEN_PID the LISTEN test failed (fd 3 of a
// LISTEN_PID-less caller reached the container); counting a pipe as Node's whenever two fds
// held it, the exec test's two copies of the caller's pipe were refused. With lib/cli of the
// commit before (yargs' number type, each scanner's own flag list) all five failed, the value
// and global-flag ones too: `--preserve-fds 2.5` on run was "internal error" (a RangeError in
// the plan encoder), and `--rootless true exec c1 sh -c 'echo hi'` said
// ``--cap: unknown capability `echo hi` ``.
import { type SpawnOptions, spawnSync } from 'node:child_process';
import { closeSync, openSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { type Result, command, detachedVerb, launchSync, spawnOptions, stateRoot } from '../helpers/launch.js';

afterAll(cleanupBase);

const uniq = (what: string) => `${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
/** The process's fds from 3 on, with what they are (its shell's table: no `ls` fd of its own,
 * and no `$(...)`, whose pipe the shell would hold). */
const LIST_FDS = 'for f in /proc/$$/fd/*; do n=${f##*/}; [ $n -gt 2 ] && [ -e $f ] && echo -n "$n " && readlink $f; done; echo "env ${LISTEN_FDS:-none} ${LISTEN_PID:-none}"';

eachMode('attacks: only the caller\'s fds reach the container (--preserve-fds, LISTEN_FDS)', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const sleeper = `fds-sleeper-${mode}-${process.pid}`;
  let file = '';

  beforeAll(() => {
    if (skip) return;
    const dir = ownedDir(who(), 'fds');
    file = join(dir, 'given');
    writeFileSync(file, 'from the caller\n');
    const bundle = makeBundle(who(), { args: ['/bin/sleep', '1000'] });
    expect(detachedVerb(who(), ['run', '-d', '--bundle', bundle, sleeper])).toEqual({ status: 0, log: '' });
  });
  afterAll(() => {
    if (!skip) launchSync(who(), ['delete', '--force', sleeper]);
  });

  /** Run launch with `fds` open as its 3, 4...; `env` set, LISTEN_PID as launch's own pid
   * when `listenPid` (a shell that then execs launch). */
  function launchWith(args: string[], opts: { fds?: number; env?: NodeJS.ProcessEnv; listenPid?: boolean } = {}): Result {
    const opened = Array.from({ length: opts.fds ?? 0 }, () => openSync(file, 'r'));
    try {
      const stdio = ['ignore', 'pipe', 'pipe', ...opened] as SpawnOptions['stdio'];
      let [cmd, argv] = command(who(), args);
      if (opts.listenPid) [cmd, argv] = ['/bin/sh', ['-c', 'LISTEN_PID=$$; export LISTEN_PID; exec "$@"', 'sh', cmd, ...argv]];
      const r = spawnSync(cmd, argv, { ...spawnOptions(who(), { env: opts.env }), stdio, encoding: 'utf8', timeout: 30_000 });
      return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    } finally {
      for (const fd of opened) closeSync(fd);
    }
  }
  const left = (id: string) => readdirSync(stateRoot(who())).filter((n) => n === id);
  const notGiven = (ctx: string, what: string, fd: number) =>
    `launch: ${ctx}: ${what}: fd ${fd} was not given to launch (only fds its caller opened go on to the container)\n`;

  it.skipIf(skip)('run, create and `launch DIR`: a --preserve-fds fd the caller did not give is refused, nothing made', () => {
    const bundle = makeBundle(who(), { args: ['/bin/sh', '-c', LIST_FDS] });
    for (const [verb, given] of [['run', 0], ['create', 1]] as const) {
      const id = uniq('pf');
      const r = launchWith([verb, '--preserve-fds', String(given + 1), '--bundle', bundle, id], { fds: given });
      expect([r.stderr, r.status]).toEqual([notGiven(`${verb} ${id}`, `--preserve-fds ${given + 1}`, 3 + given), 125]);
      expect(left(id)).toEqual([]);
    }
    const short = launchWith(['--preserve-fds', '2', bundle], { fds: 1 });
    expect(short.status).toBe(125);
    expect(short.stderr).toMatch(/^launch: run launch-[0-9a-z-]+: --preserve-fds 2: fd 4 was not given to launch \(only fds its caller opened go on to the container\)\n$/);
    // What the caller gave goes through, and nothing else.
    const ok = launchWith(['--preserve-fds', '2', bundle], { fds: 2 });
    expect([ok.stderr, ok.status]).toEqual(['', 0]);
    expect(ok.stdout).toBe(`3 ${file}\n4 ${file}\nenv none none\n`);
  });

  it.skipIf(skip)('exec: a --preserve-fds range over launch\'s own fds is refused (it handed out its event loop)', () => {
    const r = launchWith(['exec', '--preserve-fds', '3', sleeper, 'sh', '-c', LIST_FDS], { fds: 1 });
    expect([r.stdout, r.stderr, r.status]).toEqual(['', notGiven(`exec ${sleeper}`, '--preserve-fds 3', 4), 125]);
    const ok = launchWith(['exec', '--preserve-fds', '1', sleeper, 'sh', '-c', `${LIST_FDS}; cat <&3`], { fds: 1 });
    expect([ok.stdout, ok.stderr, ok.status]).toEqual([`3 ${file}\nenv none none\nfrom the caller\n`, '', 0]);
    // Two copies of one end of a pipe are the caller's (Node's self-pipes are both ends).
    const [cmd, argv] = command(who(), ['exec', '--preserve-fds', '2', sleeper, 'sh', '-c', 'a=$(readlink /proc/$$/fd/3); b=$(readlink /proc/$$/fd/4); [ "$a" = "$b" ] && echo "${a%%:*}"; cat <&4']);
    const p = spawnSync('/bin/sh', ['-c', 'echo through a pipe | "$@" 3<&0 4<&0 </dev/null', 'sh', cmd, ...argv], { ...spawnOptions(who()), encoding: 'utf8', timeout: 30_000 });
    expect([p.stdout, p.stderr, p.status]).toEqual(['pipe\nthrough a pipe\n', '', 0]);
  });

  it.skipIf(skip)('LISTEN_FDS counts only when LISTEN_PID is launch\'s pid; its fds come before --preserve-fds ones (as runc)', () => {
    const bundle = makeBundle(who(), { args: ['/bin/sh', '-c', LIST_FDS] });
    const run = (opts: Parameters<typeof launchWith>[1], extra: string[] = []) => launchWith(['run', ...extra, '--bundle', bundle, uniq('lf')], opts);
    // Meant for a process before launch (no LISTEN_PID, or another one): not passed.
    for (const env of [{ LISTEN_FDS: '1' }, { LISTEN_FDS: '1', LISTEN_PID: '1' }]) {
      expect(run({ fds: 1, env })).toMatchObject({ stdout: 'env none none\n', stderr: '', status: 0 });
    }
    expect(run({ fds: 1, env: { LISTEN_FDS: '1' }, listenPid: true })).toMatchObject({ stdout: `3 ${file}\nenv 1 1\n`, stderr: '', status: 0 });
    expect(run({ fds: 2, env: { LISTEN_FDS: '1' }, listenPid: true }, ['--preserve-fds', '1'])).toMatchObject({ stdout: `3 ${file}\n4 ${file}\nenv 1 1\n`, status: 0 });
    const r = run({ fds: 1, env: { LISTEN_FDS: '2' }, listenPid: true });
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^launch: run lf-[\w-]+: LISTEN_FDS=2: fd 4 was not given to launch \(only fds its caller opened go on to the container\)\n$/);
  });

  it.skipIf(skip)('--preserve-fds 2.5, 1e400, -1, abc, 0x3: one usage line naming the value, for run, create, exec and `launch DIR`', () => {
    const bundle = makeBundle(who(), { args: ['/bin/true'] });
    for (const v of ['2.5', '1e400', '-1', 'abc', '0x3']) {
      const want = `--preserve-fds must be a number from 0 to 65536, got \`${v}\`\n`;
      for (const verb of ['run', 'create']) {
        const id = uniq('pv');
        const r = launchWith([verb, '--preserve-fds', v, '--bundle', bundle, id]);
        expect([r.stderr, r.status]).toEqual([`launch: ${verb} ${id}: ${want}`, 125]);
        expect(left(id)).toEqual([]);
      }
      const e = launchWith(['exec', `--preserve-fds=${v}`, sleeper, 'true']);
      expect([e.stderr, e.status]).toEqual([`launch: exec ${sleeper}: ${want}`, 125]);
      const s = launchWith(['--preserve-fds', v, bundle]);
      expect(s.status).toBe(125);
      expect(s.stderr).toMatch(new RegExp(`^launch: run launch-[0-9a-z-]+: ${want.replace(/[.*+?^${}()|[\]\\`]/g, '\\$&')}$`));
    }
  });

  it.skipIf(skip)('global flags in both forms before exec and `launch DIR`: `--rootless true exec c1 sh -c \'echo hi\'`', () => {
    const bundle = makeBundle(who(), { args: ['/bin/echo', 'from the bundle'] });
    const log = join(ownedDir(who(), 'log'), 'log');
    for (const words of [['--rootless', 'true'], ['--rootless=true'], ['--log', log], [`--log=${log}`], ['--log-format', 'json'], ['--debug', 'false'], ['--systemd-cgroup=false']]) {
      const e = launchWith([...words, 'exec', sleeper, 'sh', '-c', 'echo hi']);
      expect([e.stdout, e.stderr, e.status]).toEqual(['hi\n', '', 0]);
      const r = launchWith([...words, bundle]);
      expect([r.stdout, r.stderr, r.status]).toEqual(['from the bundle\n', '', 0]);
    }
  });
});
