// The foreground contract for scripts and CI jobs: stdio passes through as it is, the exit
// status is the container's, signals reach the container, and nothing is left behind.
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { processesWith } from '../helpers/procs.js';
import { exitOf, launchChild, launchShell, launchSync, runBundle, spawnOptions, stateRoot, until, waitFor } from '../helpers/launch.js';

afterAll(cleanupBase);

const sh = (script: string) => ['/bin/sh', '-c', script];

eachMode('foreground', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('passes the exit code through', () => {
    for (const code of [0, 1, 3, 42, 255]) {
      const r = runBundle(who(), makeBundle(who(), { args: sh(`exit ${code}`) }));
      expect(r.status).toBe(code);
    }
  });

  it.skipIf(skip)('reports death by signal N as 128+N', async () => {
    // The kernel protects a namespace's pid 1 from every signal it has no handler for, but
    // SIGKILL from the host: kill it that way, through the pid file.
    const pidFile = join(ownedDir(who(), 'pid'), 'pid');
    const child = launchChild(who(), ['run', '--pid-file', pidFile, '--bundle', makeBundle(who(), { args: sh('echo ready; sleep 1000') }), `segv-${process.pid}`]);
    await waitFor(child.stdout!, 'ready');
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
    expect((await exitOf(child)).code).toBe(128 + 9);
    // A signal the container's own child dies of comes back through the shell as 128+N too.
    const r = runBundle(who(), makeBundle(who(), { args: sh('sh -c "kill -SEGV \\$\\$"; exit $?') }));
    expect(r.status).toBe(128 + 11);
  });

  it.skipIf(skip)('runs `launch DIR` (shorthand, generated id) and `run` from the bundle as the cwd', () => {
    const bundle = makeBundle(who(), { args: ['/bin/echo', 'short'] });
    const r = launchSync(who(), [bundle]);
    expect([r.stdout, r.stderr, r.status]).toEqual(['short\n', '', 0]);
    // `run ID` alone takes the current directory as the bundle, as runc does.
    const r2 = launchSync(who(), ['run', `cwd-${process.pid}`], { cwd: bundle });
    expect([r2.stdout, r2.status]).toEqual(['short\n', 0]);
  });

  it.skipIf(skip)('passes stdin, stdout and stderr through as pipes', () => {
    const r = runBundle(who(), makeBundle(who(), { args: sh('read line; echo "out:$line"; echo "err:$line" >&2; cat') }), {
      input: 'first\nsecond\n',
    });
    expect(r.stdout).toBe('out:first\nsecond\n');
    expect(r.stderr).toBe('err:first\n');
  });

  it.skipIf(skip)('writes to a file given as stdout and reads /dev/null as stdin', () => {
    const out = join(ownedDir(who(), 'out'), 'stdout.txt');
    const bundle = makeBundle(who(), { args: sh('[ -c /dev/stdin ] && cat; echo to-file') });
    // Created by root: a root-owned /dev/null and a root-owned file still work rootless,
    // because the container inherits open descriptors, it does not reopen them.
    const fd = openSync(out, 'w');
    const nul = openSync('/dev/null', 'r');
    try {
      const r = runBundle(who(), bundle, { stdio: [nul, fd, 'pipe'] });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
    } finally {
      closeSync(fd);
      closeSync(nul);
    }
    expect(readFileSync(out, 'utf8')).toBe('to-file\n');
  });

  it.skipIf(skip)('closes the pipes it was given: `| head` ends a writer with SIGPIPE', () => {
    const bundle = makeBundle(who(), { args: ['/bin/yes'] });
    const r = spawnSync('sh', ['-c', `${launchShell()} --root "${stateRoot(who())}" run --bundle "${bundle}" pipe-$$ | head -n 2; echo "\${PIPESTATUS:-}"`], {
      ...spawnOptions(who()),
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(r.stdout.startsWith('y\ny\n')).toBe(true);
  });

  it.skipIf(skip)('gives the container the terminal it was started from', () => {
      const bundle = makeBundle(who(), { args: sh('[ -t 0 ] && [ -t 1 ] && echo tty-ok') });
      const cmd = `${launchShell()} --root "${stateRoot(who())}" run --bundle "${bundle}" tty-$$`;
      const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { ...spawnOptions(who()), encoding: 'utf8', timeout: 20_000 });
      expect(r.stdout).toContain('tty-ok');
      expect(r.status).toBe(0);
  });

  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'] as const) {
    it.skipIf(skip)(`passes ${sig} on to the container`, async () => {
      const name = sig.slice(3);
      const bundle = makeBundle(who(), { args: sh(`trap 'echo got-${name}; exit 7' ${name}; echo ready; while :; do sleep 0.05; done`) });
      const child = launchChild(who(), ['run', '--bundle', bundle, `sig-${name}-${process.pid}`]);
      const out = waitFor(child.stdout!, 'ready');
      await out;
      const seen = waitFor(child.stdout!, `got-${name}`);
      child.kill(sig);
      await seen;
      const { code } = await exitOf(child);
      expect(code).toBe(7);
    });
  }

  it.skipIf(skip)('waits as the native monitor: same pid, a fraction of the memory', async () => {
    const bundle = makeBundle(who(), { args: sh('echo ready; sleep 2; exit 5') });
    const child = launchChild(who(), ['run', '--bundle', bundle, `mon-${process.pid}`]);
    await waitFor(child.stdout!, 'ready');
    // The process the caller started, now the monitor (its comm says so): under 2 MiB resident
    // where a waiting Node holds ~45 MiB.
    let comm = '';
    for (let i = 0; i < 100 && comm !== 'launch:monitor'; i++) {
      comm = readFileSync(`/proc/${child.pid}/comm`, 'utf8').trim();
      if (comm !== 'launch:monitor') await new Promise((r) => setTimeout(r, 20));
    }
    expect(comm).toBe('launch:monitor');
    const rssKiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]);
    expect(rssKiB).toBeLessThan(2048);
    expect((await exitOf(child)).code).toBe(5);
  });

  it.skipIf(skip)('leaves nothing behind: no state, no process, no mount', async () => {
    const marker = `leftover-${process.pid}-${mode}`;
    // sh stays pid 1 with the marker in its command line; sleep is its child.
    const bundle = makeBundle(who(), { args: sh(`echo ready; sleep 1000; : ${marker}`) });
    const root = stateRoot(who());
    const id = `gone-${process.pid}`;
    const child = launchChild(who(), ['run', '--bundle', bundle, id]);
    await waitFor(child.stdout!, 'ready');
    expect(existsSync(join(root, id, 'state.json'))).toBe(true);
    expect(processesWith(marker).length).toBeGreaterThan(0);
    // SIGKILL of launch itself: the container must die with it (parent-death signal).
    child.kill('SIGKILL');
    await exitOf(child);
    for (let i = 0; i < 100 && processesWith(marker).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(processesWith(marker)).toEqual([]);
    // What a killed launch could not clean, `delete` does: its state, and its cgroup (root).
    const state = JSON.parse(readFileSync(join(root, id, 'state.json'), 'utf8')) as { cgroup?: { dirs: Record<string, string> } };
    const cgroupDirs = Object.values(state.cgroup?.dirs ?? {});
    expect(cgroupDirs.length > 0).toBe(mode === 'root'); // runc spec's device rules make one as root
    // The marker leaves the process list when the init's memory goes, a moment before the init
    // is a zombie; a `state` answered by the native front (no Node start) can fall in between.
    await until('state says stopped', () => JSON.parse(launchSync(who(), ['state', id]).stdout).status === 'stopped');
    const del = launchSync(who(), ['delete', id]);
    expect([del.stderr, del.status]).toEqual(['', 0]);
    expect(existsSync(join(root, id))).toBe(false);
    for (const d of cgroupDirs) expect(existsSync(d)).toBe(false);
    // After a normal exit the state directory is gone too.
    const r = runBundle(who(), makeBundle(who(), { args: ['/bin/true'] }), { id: `clean-${process.pid}` });
    expect(r.status).toBe(0);
    expect(existsSync(join(root, `clean-${process.pid}`))).toBe(false);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(bundle);
  });
});
