// The monitor (addon/monitor/) and execMonitor (addon/parent/execmon.cc), without privileges.
// execMonitor replaces the calling process, so each case runs a Node child (process.execPath)
// that starts an "init" of its own (a shell through child_process, or a zero-namespace plan
// with a pty) and then execs the monitor with that init's pidfd: the same shape as a
// foreground `launch run`, whose shell waits on the pid that becomes the monitor.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProcess, spawn as spawnProcess, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodePlan } from '../../lib/plan/encode.js';
import { MSG, type Op } from '../../lib/plan/ops.js';

const ADDON = new URL('../../build/Release/launch_native.node', import.meta.url).pathname;
const MONITOR = new URL('../../build/Release/launch-monitor', import.meta.url).pathname;
const SH = existsSync('/bin/sh') ? '/bin/sh' : '/usr/bin/sh';
const tmp = mkdtempSync(join(tmpdir(), 'launch-monitor-'));
const HARNESS = join(tmp, 'harness.mjs');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// The Node side of a foreground run, reduced to its last step. Config comes in $MON_CFG.
// Everything between starting the init and execMonitor is synchronous: libuv reaps its own
// children from the event loop, and must not get to this one before the monitor does.
beforeAll(() =>
  writeFileSync(
    HARNESS,
    `import { createRequire } from 'node:module';
import { spawn } from 'node:child_process';
import { closeSync, readFileSync, writeSync } from 'node:fs';
const cfg = JSON.parse(process.env.MON_CFG);
const addon = createRequire(import.meta.url)(cfg.addon);
const args = ['launch'];
const keep = [];
if (cfg.plan) {
  const { pidfd, syncFd } = addon.spawn(Buffer.from(cfg.plan, 'base64'), 0, -1);
  const got = addon.recvMsg(syncFd, 64);
  const ack = Buffer.alloc(16);
  ack.writeUInt32LE(cfg.ack, 0);
  writeSync(syncFd, ack);
  if (addon.recvMsg(syncFd, 64) !== null) throw new Error('the init did not exec');
  closeSync(syncFd);
  args.push('--pidfd', String(pidfd), '--pty', String(got.fd));
  keep.push(pidfd, got.fd);
} else {
  const child = spawn(cfg.shell, ['-c', cfg.sh], { stdio: 'inherit' });
  const pidfd = addon.pidfdOpen(child.pid);
  args.push('--pidfd', String(pidfd));
  keep.push(pidfd);
}
const image = cfg.buffer ? readFileSync(cfg.monitor) : cfg.monitor;
const cloexec = (fd) => (parseInt(/^flags:\\s+(\\d+)/m.exec(readFileSync('/proc/self/fdinfo/' + fd, 'utf8'))[1], 8) & 0o2000000) !== 0;
const before = [0, 1, 2, ...keep].map(cloexec);
try {
  addon.execMonitor(image, [...args, ...cfg.args], keep);
} catch (err) {
  const after = [0, 1, 2, ...keep].map(cloexec);
  process.stderr.write(JSON.stringify({ errno: err.errno, syscall: err.syscall, before, after }) + '\\n');
  process.exit(99);
}
`,
  ),
);

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

interface Cfg {
  sh?: string;
  plan?: Buffer;
  args?: string[];
  buffer?: boolean;
  monitor?: string | null;
  input?: string;
}

function run(cfg: Cfg): Run {
  const env = {
    ...process.env,
    MON_CFG: JSON.stringify({
      addon: ADDON,
      monitor: cfg.monitor === undefined ? MONITOR : cfg.monitor,
      shell: SH,
      sh: cfg.sh,
      plan: cfg.plan?.toString('base64'),
      ack: MSG.ACK,
      args: cfg.args ?? [],
      buffer: cfg.buffer ?? false,
    }),
  };
  const child = spawnProcess(process.execPath, [HARNESS], { env, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  child.stdin!.on('error', () => {});
  child.stdin!.end(cfg.input ?? '');
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('close', (code, signal) => resolve({ code, signal })),
  );
  return { child, stdout: () => out, stderr: () => err, exit };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Until the process has become the monitor (it names itself, whichever way it was exec'd). */
async function becameMonitor(pid: number): Promise<void> {
  for (let i = 0; i < 500; i++) {
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'launch:monitor') return;
    } catch {
      /* not yet, or gone */
    }
    await sleep(10);
  }
  throw new Error(`pid ${pid} never became the monitor`);
}

async function untilOutput(r: Run, text: string): Promise<void> {
  for (let i = 0; i < 500 && !r.stdout().includes(text); i++) await sleep(10);
  expect(r.stdout()).toContain(text);
}

describe('launch-monitor', () => {
  it('is a small static executable', () => {
    const head = readFileSync(MONITOR).subarray(0, 4);
    expect(head.toString('latin1')).toBe('\x7fELF');
    expect(statSync(MONITOR).size).toBeLessThan(2 * 1024 * 1024);
    const ldd = spawnSync('ldd', [MONITOR], { encoding: 'utf8' });
    if (!ldd.error) expect(ldd.stdout + ldd.stderr).toMatch(/not a dynamic executable|statically linked/);
  });

  describe.each([
    ['a path', false],
    ['a Buffer (memfd + execveat)', true],
  ])('exec from %s', (_name, buffer) => {
    it('passes the exit code through', async () => {
      const r = run({ sh: 'echo out; exit 7', buffer });
      expect(await r.exit).toEqual({ code: 7, signal: null });
      expect(r.stdout()).toBe('out\n');
      expect(r.stderr()).toBe('');
    });

    it('a SIGKILLed init: 128+9', async () => {
      const r = run({ sh: 'kill -KILL $$', buffer });
      expect(await r.exit).toEqual({ code: 137, signal: null });
    });

    it('forwards a signal to the init', async () => {
      const r = run({ sh: 'trap "exit 42" TERM; echo ready; while :; do sleep 0.05; done', args: ['--forward', '1,15'], buffer });
      await untilOutput(r, 'ready');
      await becameMonitor(r.child.pid!);
      r.child.kill('SIGTERM');
      expect(await r.exit).toEqual({ code: 42, signal: null });
    });

    it('stays under 2 MiB resident', async () => {
      const r = run({ sh: 'echo ready; exec sleep 30', args: ['--forward', '15'], buffer });
      await untilOutput(r, 'ready');
      await becameMonitor(r.child.pid!);
      const status = readFileSync(`/proc/${r.child.pid}/status`, 'utf8');
      const rssKiB = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]);
      // The signal mask: only the forwarded set stays blocked (it is read from the signalfd).
      expect(/^SigBlk:\s+([0-9a-f]+)/m.exec(status)?.[1]).toBe((1n << 14n).toString(16).padStart(16, '0'));
      r.child.kill('SIGTERM');
      expect(await r.exit).toEqual({ code: 128 + 15, signal: null });
      expect(rssKiB).toBeGreaterThan(0);
      expect(rssKiB).toBeLessThan(2048);
    });
  });

  it('poststop hooks: the state on stdin, warnings in the Node wording, the next hook still runs', async () => {
    const out = join(tmp, 'hooks.out');
    const hook = (i: number, timeout: number, path: string, argv: string[], env: string[] | null) => [
      '--hook', `hooks.poststop[${i}]`, String(timeout), path, String(argv.length), ...argv, String(env ? env.length : -1), ...(env ?? []),
    ];
    const state = '{"ociVersion":"1.0.2","id":"c1","status":"stopped"}';
    const t0 = Date.now();
    const r = run({
      sh: 'exit 3',
      args: [
        '--state', state,
        ...hook(0, 0, SH, ['sh', '-c', `cat > ${out}; echo "$A $0" >> ${out}; echo hook-stdout`, 'h0'], ['A=b']),
        ...hook(1, 0, SH, ['sh', '-c', 'exit 3'], null),
        ...hook(2, 0, '/nonexistent/hook', [], null),
        ...hook(3, 1, SH, ['sh', '-c', 'exec sleep 30'], null),
        ...hook(4, 0, SH, ['sh', '-c', 'kill -TERM $$'], null),
        ...hook(5, 0, SH, ['sh', '-c', 'exit 0'], []),
      ],
    });
    expect(await r.exit).toEqual({ code: 3, signal: null });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(readFileSync(out, 'utf8')).toBe(`${state}b h0\n`);
    // A hook's stdout goes to launch's stderr: launch's stdout belongs to the container.
    expect(r.stdout()).toBe('');
    expect(r.stderr()).toBe(
      [
        'hook-stdout',
        'launch: warning: hooks.poststop[1]: hook `' + SH + '` exited with status 3',
        'launch: warning: hooks.poststop[2]: cannot run hook `/nonexistent/hook`: No such file or directory (ENOENT)',
        'launch: warning: hooks.poststop[3]: hook `' + SH + '` timed out after 1s',
        'launch: warning: hooks.poststop[4]: hook `' + SH + '` was killed by SIGTERM',
        '',
      ].join('\n'),
    );
  });

  // More than a pipe holds (64 KiB), less than one argv string may be (MAX_ARG_STRLEN, 128 KiB).
  it('a hook that does not read its state is no failure (EPIPE)', async () => {
    const big = JSON.stringify({ id: 'c1', annotations: { x: 'y'.repeat(100_000) } });
    const r = run({ sh: 'exit 0', args: ['--state', big, '--hook', 'hooks.poststop[0]', '5', SH, '3', 'sh', '-c', 'exit 0', '-1'] });
    expect(await r.exit).toEqual({ code: 0, signal: null });
    expect(r.stderr()).toBe('');
  });

  it('--rmdir and --remove-dir, after the hooks', async () => {
    const cg = join(tmp, 'cg');
    mkdirSync(join(cg, 'leaf'), { recursive: true });
    const state = join(tmp, 'state');
    mkdirSync(state);
    writeFileSync(join(state, 'state.json'), '{}');
    spawnSync('mkfifo', [join(state, 'exec.fifo')]);
    const marker = join(tmp, 'seen-by-hook');
    const r = run({
      sh: 'exit 0',
      args: [
        '--hook', 'hooks.poststop[0]', '0', SH, '3', 'sh', '-c', `test -d ${join(cg, 'leaf')} && test -f ${join(state, 'state.json')} && touch ${marker}`, '-1',
        '--rmdir', join(cg, 'leaf'), '--rmdir', cg, '--rmdir', join(tmp, 'never-there'),
        '--remove-dir', state,
      ],
    });
    expect(await r.exit).toEqual({ code: 0, signal: null });
    expect(r.stderr()).toBe('');
    expect(existsSync(marker)).toBe(true);
    expect(existsSync(cg)).toBe(false);
    expect(existsSync(state)).toBe(false);
  });

  describe('--pty', () => {
    const o = (op: Op['op'], ...args: Op['args']): Op => ({ op, args, origin: { what: op } });
    const ptyPlan = (script: string) =>
      encodePlan([o('SETSID'), o('CONSOLE', 0, 24, 80, process.getuid!()), o('EXEC', [SH], 0, ['sh', '-c', script], 0, ['PATH=/usr/bin:/bin'])]);

    it('relays input and output; the end of input is one ^D', async () => {
      const r = run({ plan: ptyPlan('read x; echo "got $x"; cat; echo done; exit 5'), input: 'hello\nworld\n' });
      expect(await r.exit).toEqual({ code: 5, signal: null });
      expect(r.stderr()).toBe('');
      const out = r.stdout();
      // The pty echoes the input and turns \n into \r\n; our stdout (a pipe) is not a terminal.
      expect(out).toContain('got hello\r\n');
      expect(out).toContain('world\r\n');
      expect(out.endsWith('done\r\n')).toBe(true);
    });

    it('the last output is drained after the exit', async () => {
      const r = run({ plan: ptyPlan('i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; exit 0'), input: '' });
      expect(await r.exit).toEqual({ code: 0, signal: null });
      expect(r.stdout()).toContain('line-0\r\n');
      expect(r.stdout().endsWith('line-1999\r\n')).toBe(true);
    });
  });

  describe('argv', () => {
    const bad = (args: string[], message: string) => {
      const r = spawnSync(MONITOR, args, { encoding: 'utf8' });
      expect(r.status).toBe(125);
      expect(r.stderr).toBe(`launch: monitor: ${message}\n`);
    };
    it('is parsed strictly: message and 125', () => {
      bad([], '--pidfd is required');
      bad(['--pidfd'], '--pidfd needs 1 argument');
      bad(['--pidfd', '3x'], '--pidfd: `3x` is not a number from 0 to 2147483647');
      bad(['--pidfd', ' 3'], '--pidfd: ` 3` is not a number from 0 to 2147483647');
      bad(['--pidfd', '+3'], '--pidfd: `+3` is not a number from 0 to 2147483647');
      bad(['--pidfd', '3', '--pidfd', '4'], '--pidfd given twice');
      bad(['--pidfd', '3', '--forward', '15,,2'], '--forward: `` is not a number from 1 to 64');
      bad(['--pidfd', '3', '--forward', '15,'], '--forward: `` is not a number from 1 to 64');
      bad(['--pidfd', '3', '--forward', '9'], '--forward: signal 9 cannot be forwarded');
      bad(['--pidfd', '3', '--forward', '65'], '--forward: `65` is not a number from 1 to 64');
      bad(['--pidfd', '3', '--hook', 'h', '0', '/bin/true', '2'], '--hook needs 5 arguments');
      bad(['--pidfd', '3', '--hook', 'h', '0', '/bin/true', '2', 'a'], '--hook ARGC: `2` is not a number from 0 to 0');
      bad(['--pidfd', '3', '--hook', 'h', 'x', '/bin/true', '0', '-1'], '--hook TIMEOUT: `x` is not a number from 0 to 2147483647');
      bad(['--pidfd', '3', '--hook', 'h', '0', '/bin/true', '0', '-2'], '--hook ENVC: `-2` is not a number from -1 to 0');
      bad(['--pidfd', '3', '--hook', 'h', '0', '/bin/true', '0', '1'], '--hook ENVC: `1` is not a number from -1 to 0');
      bad(['--pidfd', '3', '--hook', 'h', '0', '', '0', '-1'], '--hook h: empty path');
      bad(['--pidfd', '3', '--verbose'], 'unknown argument `--verbose`');
    });
  });
});

describe('execMonitor failures', () => {
  it('throws with errno and syscall, and leaves the fds as they were', async () => {
    const r = run({ sh: 'exit 0', monitor: join(tmp, 'no-such-monitor') });
    expect(await r.exit).toEqual({ code: 99, signal: null });
    const got = JSON.parse(r.stderr());
    expect(got).toMatchObject({ errno: 2, syscall: 'execve' });
    expect(got.after).toEqual(got.before);
    expect(got.before.at(-1)).toBe(true); // the pidfd: close-on-exec again
  });

  it('a Buffer that is no executable: ENOEXEC from execveat', async () => {
    const junk = join(tmp, 'junk');
    writeFileSync(junk, 'not an ELF file\n');
    const r = run({ sh: 'exit 0', monitor: junk, buffer: true });
    expect(await r.exit).toEqual({ code: 99, signal: null });
    const got = JSON.parse(r.stderr());
    expect(got).toMatchObject({ errno: 8, syscall: 'execveat' });
    expect(got.after).toEqual(got.before);
  });
});
