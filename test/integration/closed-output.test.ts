// launch's own output (debug lines, warnings) going to a pipe nobody reads any more, as in
// `launch --debug DIR 2>&1 | head -1`: the run must still finish as the container does, and
// clean up behind it (issue 18: an EPIPE killed Node between making the state and the cgroups
// and removing them).
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { cgroupDirsNamed, processesWith } from '../helpers/procs.js';
import { SLOW, command, exitOf, spawnOptions, stateRoot } from '../helpers/launch.js';

afterAll(cleanupBase);

eachMode('launch output to a closed pipe', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const fresh = (tag: string) => `epipe-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  const leftovers = (id: string) => {
    expect(existsSync(join(stateRoot(who()), id)), 'state dir').toBe(false);
    expect(readdirSync(stateRoot(who())).filter((n) => !n.startsWith('.')), 'state root').toEqual([]);
    expect(cgroupDirsNamed(id), 'cgroup dirs').toEqual([]);
    expect(processesWith(id), 'processes').toEqual([]);
  };

  // Twice each: the first start is Node's (it compiles the bundle), the second the native
  // runner's, unless hooks keep it Node's. A poststart hook makes Node wait on the event loop
  // after its debug lines: an EPIPE error event had its turn there.
  it.skipIf(skip).each([
    ['no hooks', false],
    ['a poststart hook', true],
  ])('--debug run (%s) whose stdout and stderr readers are gone: the container\'s exit code, nothing left', async (_, hook) => {
    const bundle = makeBundle(who(), {
      args: ['/bin/sh', '-c', 'sleep 0.2; exit 3'],
      edit: (spec) => void (hook && (spec.hooks = { poststart: [{ path: '/bin/true' }] })),
    });
    for (let i = 0; i < 2; i++) {
      const id = fresh('closed');
      const [file, argv] = command(who(), ['--debug', 'run', '--bundle', bundle, id]);
      const child = spawn(file, argv, { ...spawnOptions(who()), stdio: ['ignore', 'pipe', 'pipe'] });
      // Closed before launch writes anything: its first debug line is an EPIPE.
      child.stdout!.destroy();
      child.stderr!.destroy();
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000 * SLOW);
      const end = await exitOf(child);
      clearTimeout(timer);
      expect(end, `start ${i + 1}`).toEqual({ code: 3, signal: null });
      leftovers(id);
    }
  });

  it.skipIf(skip)('`launch --debug run ... 2>&1 | head -c 1` (a poststart hook): the container\'s exit code, nothing left', () => {
    const bundle = makeBundle(who(), {
      args: ['/bin/sh', '-c', 'sleep 0.2; exit 3'],
      edit: (spec) => void (spec.hooks = { poststart: [{ path: '/bin/true' }] }),
    });
    const statusFile = join(ownedDir(who(), 'status'), 'status');
    for (let i = 0; i < 2; i++) {
      const id = fresh('head');
      const [file, argv] = command(who(), ['--debug', 'run', '--bundle', bundle, id]);
      const script = 'out=$1; shift; { "$@" 2>&1; echo $? > "$out"; } | head -c 1 >/dev/null';
      const r = spawnSync('/bin/sh', ['-c', script, 'sh', statusFile, file, ...argv], { ...spawnOptions(who()), stdio: 'ignore', timeout: 30_000 * SLOW });
      expect(r.status, `shell of start ${i + 1}`).toBe(0);
      expect(readFileSync(statusFile, 'utf8').trim(), `start ${i + 1}`).toBe('3');
      leftovers(id);
    }
  });

  // The native front (addon/front) answers `state` without Node: a closed stderr must not kill
  // it by SIGPIPE before it has written its --log line, where a shim reads the error.
  it.skipIf(skip)('the native front with stderr closed: its exit code, and the error in --log', async () => {
    const log = join(ownedDir(who(), 'log'), 'launch.log');
    const id = fresh('front');
    const [file, argv] = command(who(), ['--log', log, 'state', id]);
    const child = spawn(file, argv, { ...spawnOptions(who()), stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.destroy();
    child.stderr!.destroy();
    expect(await exitOf(child)).toEqual({ code: 125, signal: null });
    expect(readFileSync(log, 'utf8')).toContain(`container \`${id}\` does not exist`);
  });

  // `exec -t` in the foreground relays the pty to launch's stdout itself (lib/runtime/terminal.ts):
  // with that stdout closed the relay must go on reading, or the pty fills and the process
  // blocks on its next write for good.
  it.skipIf(skip)('exec -t with stdout closed: the relay drains the pty, the exit code is the process\'s', async () => {
    const id = fresh('tty');
    const bundle = makeBundle(who(), { args: ['sleep', '1000'] });
    const [file, argv] = command(who(), ['run', '-d', '--bundle', bundle, id]);
    expect(spawnSync(file, argv, { ...spawnOptions(who()), stdio: 'ignore', timeout: 30_000 * SLOW }).status).toBe(0);
    try {
      // Far more than a pty holds (a few KiB to 64 KiB).
      const [f2, a2] = command(who(), ['exec', '-t', id, 'sh', '-c', 'yes | head -c 1000000; exit 4']);
      const child = spawn(f2, a2, { ...spawnOptions(who()), stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout!.destroy();
      let err = '';
      child.stderr!.on('data', (d) => void (err += d));
      const timer = setTimeout(() => child.kill('SIGKILL'), 30_000 * SLOW);
      const end = await exitOf(child);
      clearTimeout(timer);
      expect([end, err]).toEqual([{ code: 4, signal: null }, '']);
    } finally {
      const [f3, a3] = command(who(), ['delete', '--force', id]);
      spawnSync(f3, a3, { ...spawnOptions(who()), stdio: 'ignore', timeout: 30_000 * SLOW });
    }
    leftovers(id);
  });
});
