// Relay between launch's own stdio and the container's pty master (`process.terminal: true`
// without a console socket): raw mode on our terminal, window size passed on, input copied in,
// output copied out until the container's side of the pty is gone.
import { closeSync, createReadStream, writeSync } from 'node:fs';
import { isatty } from 'node:tty';
import { native } from './native.js';

const EOT = Buffer.from([4]);

export function relayTerminal(master: number): { done(): Promise<void> } {
  const addon = native();
  const stdin = process.stdin;
  const interactive = isatty(0);
  const resize = () => {
    if (process.stdout.isTTY) addon.setWinsize(master, process.stdout.rows, process.stdout.columns);
  };
  resize();
  if (interactive) (stdin as NodeJS.ReadStream & { setRawMode(m: boolean): void }).setRawMode(true);
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
