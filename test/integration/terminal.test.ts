// process.terminal as runc does it: the pty is opened inside the container (its own devpts),
// so `tty` names /dev/pts/N there and /dev/console is that pty; the master goes to launch's
// terminal (foreground) or to the --console-socket (create, run -d, exec), where a receiver
// such as conmon or containerd's shim takes it. Node cannot receive an fd (SCM_RIGHTS), so the
// receiver here is a few lines of python3.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { type RunAs, eachMode, runAs } from '../helpers/env.js';
import { SLOW, detachedVerb, exitOf, launchShell, launchSync, spawnOptions, stateRoot, until, waitFor } from '../helpers/launch.js';

afterAll(cleanupBase);

const hasPython = spawnSync('python3', ['-c', 'import socket; socket.recv_fds'], { stdio: 'ignore' }).status === 0;
const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

// Listen at argv[1]; take the fd of the first message (as conmon does); print its name; type
// argv[2] into the pty; print what the container writes until its side is closed (EIO).
const RECEIVER = `
import os, socket, sys
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sys.argv[1]); srv.listen(1)
print("listening", flush=True)
conn, _ = srv.accept()
msg, fds, _, _ = socket.recv_fds(conn, 4096, 1)
print("name=" + msg.decode(), flush=True)
os.write(fds[0], sys.argv[2].encode())
while True:
    try:
        b = os.read(fds[0], 4096)
    except OSError:
        break
    if not b:
        break
    sys.stdout.write(b.decode(errors="replace")); sys.stdout.flush()
`;

interface Receiver {
  socket: string;
  child: ChildProcess;
  /** Everything it printed, once it exited (the container's side of the pty closed). */
  output(): Promise<string>;
}

/** A console socket, as `who` (launch must be able to connect), that types `input`. */
async function receiver(who: RunAs, input: string): Promise<Receiver> {
  const socket = join(ownedDir(who, 'console'), 'console.sock');
  const child = spawn('python3', ['-c', RECEIVER, socket, input], { ...spawnOptions(who), stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = exitOf(child);
  await waitFor(child.stdout!, 'listening');
  return {
    socket,
    child,
    async output() {
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000 * SLOW);
      await exited;
      clearTimeout(timer);
      return out;
    },
  };
}

const oneLine = (s: string) => s.trim().split('\n').length === 1;

/** Prints the terminal the shell runs on, whether /dev/console is that terminal, its size. */
const PROBE = 'tty; [ /dev/console -ef "$(tty)" ] && echo console-is-tty; stty size';

eachMode('terminal', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const terminalBundle = (args: string[], size?: { height: number; width: number }) =>
    makeBundle(who(), {
      args,
      edit: (s) => {
        s.process!.terminal = true;
        if (size) s.process!.consoleSize = size;
      },
    });
  const inScript = (cmd: string) => {
    const launch = `${launchShell()} --root "${stateRoot(who())}"`;
    const r = spawnSync('script', ['-qec', cmd.replaceAll('LAUNCH', launch), '/dev/null'], { ...spawnOptions(who()), encoding: 'utf8', timeout: 20_000 * SLOW });
    // script meets the end of its (empty) input at once and types a NUL for it, which the
    // container's pty echoes as ^@ at whatever point it arrives.
    return { status: r.status, stdout: r.stdout.replaceAll('^@', '') };
  };

  it.skipIf(skip)('run: the pty is the container\'s own (/dev/pts/0, /dev/console); consoleSize, or our size', (ctx) => {
    if (!hasScript) ctx.skip('needs `script` (util-linux) to give launch a terminal');
    const bundle = terminalBundle(['/bin/sh', '-c', `${PROBE}; exit 3`], { height: 44, width: 88 });
    // A terminal without a size (0x0) leaves consoleSize alone.
    const sized = inScript(`stty rows 0 cols 0; LAUNCH run --bundle "${bundle}" tty-a-$$`);
    // \r\n from the container's pty, and no second \r from ours (output processing is off
    // while we relay, as with runc's raw mode).
    expect(sized.stdout).toMatch(/^\/dev\/pts\/0\r\nconsole-is-tty\r\n44 88\r\n/m);
    expect(sized.status).toBe(3);
    // One with a size passes it on, as runc's foreground terminal does.
    const outer = inScript(`stty rows 30 cols 100; LAUNCH run --bundle "${bundle}" tty-b-$$`);
    expect(outer.stdout).toMatch(/^\/dev\/pts\/0\r\nconsole-is-tty\r\n30 100\r\n/m);
    expect(outer.status).toBe(3);
  });

  it.skipIf(skip)('create --console-socket, start: the receiver holds the master and talks to the shell', async (ctx) => {
    if (!hasPython) ctx.skip('needs python3 (3.9+) to receive an fd over the console socket');
    const recv = await receiver(who(), 'tty; [ /dev/console -ef "$(tty)" ] && echo console-is-tty; echo from-the-shell; exit 5\n');
    const bundle = terminalBundle(['/bin/sh']);
    const id = `tty-create-${mode}-${process.pid}`;
    expect(detachedVerb(who(), ['create', '--bundle', bundle, '--console-socket', recv.socket, id])).toEqual({ status: 0, log: '' });
    expect(JSON.parse(launchSync(who(), ['state', id]).stdout).status).toBe('created');
    expect(launchSync(who(), ['start', id])).toMatchObject({ status: 0, stderr: '' });
    const out = await recv.output();
    expect(out).toMatch(/^name=\/dev\/ptmx$/m);
    expect(out).toMatch(/^\/dev\/pts\/0\r$/m);
    expect(out).toMatch(/^console-is-tty\r$/m);
    expect(out).toMatch(/^from-the-shell\r$/m);
    await until('it stopped', () => JSON.parse(launchSync(who(), ['state', id]).stdout).status === 'stopped');
    expect(launchSync(who(), ['delete', id])).toMatchObject({ status: 0, stderr: '' });
  });

  it.skipIf(skip)('exec -t --console-socket; -t in the foreground relays; -d -t needs the socket', async (ctx) => {
    if (!hasPython) ctx.skip('needs python3 (3.9+) to receive an fd over the console socket');
    const id = `tty-exec-${mode}-${process.pid}`;
    expect(detachedVerb(who(), ['run', '-d', '--bundle', makeBundle(who(), { args: ['sleep', '1000'] }), id])).toEqual({ status: 0, log: '' });
    try {
      const recv = await receiver(who(), 'tty; echo in-exec; exit 6\n');
      const r = launchSync(who(), ['exec', '-t', '--console-socket', recv.socket, id, 'sh']);
      expect([r.stdout, r.stderr, r.status]).toEqual(['', '', 6]);
      const out = await recv.output();
      expect(out).toMatch(/^\/dev\/pts\/\d+\r$/m);
      expect(out).toMatch(/^in-exec\r$/m);

      // Detached, the receiver talks to the process after launch has gone.
      const late = await receiver(who(), 'echo detached-$((6*7)); exit\n');
      expect(detachedVerb(who(), ['exec', '-d', '-t', '--console-socket', late.socket, id, 'sh'])).toEqual({ status: 0, log: '' });
      expect(await late.output()).toMatch(/^detached-42\r$/m);

      // The foreground relay: a pty of the container's devpts too (the owner is the user).
      const fg = launchSync(who(), ['exec', '-t', ...(mode === 'root' ? ['--user', '1000:1000'] : []), id, 'sh', '-c', 'tty; stat -c %u "$(tty)"; exit 2']);
      expect(fg.stdout).toMatch(new RegExp(`^/dev/pts/\\d+\\r\\n${mode === 'root' ? 1000 : 0}\\r\\n`));
      expect(fg.status).toBe(2);

      const d = launchSync(who(), ['exec', '-d', '-t', id, 'true']);
      expect(d.status).toBe(125);
      expect(d.stderr).toBe(`launch: exec ${id}: process.terminal: cannot allocate a terminal for \`exec --detach\` without --console-socket\n`);
      const noTty = launchSync(who(), ['exec', '--console-socket', recv.socket, id, 'true']);
      expect(noTty.stderr).toBe(`launch: exec ${id}: process.terminal: --console-socket given, but process.terminal is false\n`);
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('run -d and create refuse a terminal without --console-socket, leaving nothing', () => {
    const bundle = terminalBundle(['sleep', '1000']);
    for (const verb of [['run', '-d'], ['create']]) {
      const id = `tty-refused-${mode}-${process.pid}`;
      const r = launchSync(who(), [...verb, '--bundle', bundle, id]);
      expect(r.status).toBe(125);
      const what = verb[0] === 'run' ? 'run --detach' : 'create';
      expect(r.stderr).toBe(`launch: ${verb[0]} ${id}: process.terminal: cannot allocate a terminal for \`${what}\` without --console-socket\n`);
      expect(oneLine(r.stderr)).toBe(true);
      expect(existsSync(stateRoot(who())) ? readdirSync(stateRoot(who())) : []).not.toContain(id);
    }
    // A socket nobody listens at: the start fails, and takes the container with it.
    const id = `tty-nobody-${mode}-${process.pid}`;
    const socket = join(ownedDir(who(), 'console'), 'absent.sock');
    const r = launchSync(who(), ['create', '--bundle', bundle, '--console-socket', socket, id]);
    expect(r.status).toBe(125);
    expect(r.stderr).toBe(`launch: create ${id}: cannot pass the terminal to the console socket \`${socket}\`: No such file or directory (ENOENT)\n`);
    expect(readdirSync(stateRoot(who()))).not.toContain(id);
  });
});
