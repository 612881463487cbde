// Where the pty master of `process.terminal: true` goes, as runc: the container's init opens
// the pty inside the container and sends the master over the sync socket (lib/plan/build.ts
// terminalOps). With --console-socket it is passed on to that AF_UNIX socket (what conmon and
// containerd's shim listen on) and launch keeps no copy; without one (foreground only) it is
// relayed to launch's own stdio: raw mode on our terminal, window size passed on, input copied
// in, output copied out until the container's side of the pty is gone.
import { closeSync, createReadStream, writeSync } from 'node:fs';
import { resolve } from 'node:path';
import { isatty } from 'node:tty';
import { hostError, usageError } from '../errors.js';
import { native } from './native.js';

/** runc's rules: a terminal needs somewhere to go when launch does not stay to relay it
 * (`detached` names the verb that returns at once), and a console socket is for a terminal
 * only. Checked before anything is made, so a refusal leaves nothing behind. */
export function checkConsoleSocket(terminal: boolean | undefined, socket: string | undefined, detached?: string): void {
  if (socket !== undefined && !terminal) throw usageError('--console-socket given, but process.terminal is false', { configPath: 'process.terminal' });
  if (terminal && socket === undefined && detached) {
    throw usageError(`cannot allocate a terminal for ${detached} without --console-socket`, { configPath: 'process.terminal' });
  }
}

/** Hand the master to the console socket, with runc's name for it, and close our copy. */
export function sendConsole(socket: string, master: number): void {
  const path = resolve(socket);
  try {
    native().sendFd(path, master, '/dev/ptmx');
  } catch (err) {
    const e = err as { errno?: number; syscall?: string };
    throw hostError('cannot pass the terminal to the console socket', { file: path, errno: e.errno, syscall: e.syscall, cause: err });
  } finally {
    closeSync(master);
  }
}

/** The master as it arrives during the start: sent on at once, or held for relay(). */
export class ConsoleMaster {
  private fd = -1;
  private relaying = false;

  constructor(private readonly socket: string | undefined) {}

  take(fd: number): void {
    if (this.socket !== undefined) return sendConsole(this.socket, fd);
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = fd;
    // Sized now, while the init waits for our ack: its program starts with the final size.
    fitToOurTerminal(fd);
  }

  /** Start relaying the held master (none with a console socket); it closes it when done. */
  relay(): { done(): Promise<void> } | undefined {
    if (this.fd < 0) return undefined;
    this.relaying = true;
    return relayTerminal(this.fd);
  }

  /** The held master (to relay), if any. */
  get master(): number | undefined {
    return this.fd >= 0 ? this.fd : undefined;
  }

  /** A master never relayed (the start failed) must not outlive it. */
  close(): void {
    if (this.fd >= 0 && !this.relaying) closeSync(this.fd);
    this.fd = -1;
  }
}

const EOT = Buffer.from([4]);

/** Our terminal's size wins over process.consoleSize, as runc's; one that reports no size
 * (0x0, e.g. under `script` without a terminal) does not. */
function fitToOurTerminal(master: number): void {
  const { rows, columns } = process.stdout;
  if (process.stdout.isTTY && rows > 0 && columns > 0) native().setWinsize(master, rows, columns);
}

export function relayTerminal(master: number): { done(): Promise<void> } {
  const addon = native();
  const stdin = process.stdin;
  const interactive = isatty(0);
  const resize = () => fitToOurTerminal(master);
  if (interactive) {
    (stdin as NodeJS.ReadStream & { setRawMode(m: boolean): void }).setRawMode(true);
    // libuv's raw mode keeps output processing (ONLCR): the container's pty already turned
    // \n into \r\n, so ours would add another \r. runc's raw mode (cfmakeraw) clears it too;
    // setRawMode(false) restores the saved settings, OPOST included.
    if (isatty(1)) addon.setOutputProcessing(1, false);
  }
  process.on('SIGWINCH', resize);
  const write = (data: Buffer) => {
    try {
      writeSync(master, data);
    } catch {
      /* the container closed its side */
    }
  };
  const onData = (d: Buffer) => write(d);
  // A script piping input in: end of input becomes ^D, which a shell reads as end of file.
  const onEnd = () => write(EOT);
  stdin.on('data', onData);
  stdin.on('end', onEnd);
  const out = createReadStream('', { fd: master, autoClose: false });
  out.pipe(process.stdout, { end: false });
  // A closed stdout (EPIPE, ignored in lib/cli/stdio.ts) unpipes and pauses `out`: keep reading
  // and drop it, or the pty fills and the container blocks on its next write.
  const drain = () => void out.resume();
  process.stdout.once('error', drain);
  // EIO once no process holds the pty's other side: that is the end of output.
  const finished = new Promise<void>((resolve) => {
    out.on('end', resolve);
    out.on('error', () => resolve());
  });
  return {
    async done() {
      await Promise.race([finished, new Promise((r) => setTimeout(r, 1000).unref())]);
      process.off('SIGWINCH', resize);
      stdin.off('data', onData);
      stdin.off('end', onEnd);
      if (interactive) (stdin as NodeJS.ReadStream & { setRawMode(m: boolean): void }).setRawMode(false);
      stdin.pause();
      process.stdout.off('error', drain);
      out.unpipe();
      out.destroy();
      try {
        closeSync(master);
      } catch {
        /* already closed */
      }
    },
  };
}
