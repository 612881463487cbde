// Passing the signals a shell or CI runner sends to stop or poke a job on to a foreground
// container process (`run`, `exec`), as if it ran directly.
import { constants as os } from 'node:os';
import type { Started } from './launcher.js';

export const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'] as const;

export interface Forwarder {
  /** The process exists now: deliver what arrived meanwhile, and everything after. */
  attach(started: Started): void;
  /** Remove the handlers (launch gets its default dispositions back). */
  dispose(): void;
}

/** Install the handlers before the clone, so a signal that arrives while the process starts
 * is held and delivered once it has a pid. With a terminal relay, SIGWINCH resizes the pty
 * instead (lib/runtime/terminal.ts). */
export function forwardSignals(opts: { terminal: boolean }): Forwarder {
  let started: Started | undefined;
  const pending: number[] = [];
  const handlers = new Map<string, () => void>();
  for (const name of FORWARDED) {
    if (name === 'SIGWINCH' && opts.terminal) continue;
    const handler = () => {
      if (started) started.kill(os.signals[name]);
      else pending.push(os.signals[name]);
    };
    handlers.set(name, handler);
    process.on(name, handler);
  }
  return {
    attach(s) {
      started = s;
      for (const sig of pending.splice(0)) s.kill(sig);
    },
    dispose() {
      for (const [name, handler] of handlers) process.off(name, handler);
      handlers.clear();
    },
  };
}
