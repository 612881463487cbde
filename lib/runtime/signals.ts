// Passing the signals a shell or CI runner sends to stop or poke a job on to a foreground
// container process (`run`, `exec`), as if it ran directly. The handler is the addon's
// (addon/parent/forward.cc): it forwards from inside the signal handler, on whatever thread
// takes the signal, so none is lost when launch becomes the monitor (monitor.ts) and none
// waits for a turn of the event loop.
import { constants as os } from 'node:os';
import { hostError } from '../errors.js';
import type { Started } from './launcher.js';
import { native } from './native.js';

export const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'] as const;

export interface Forwarder {
  /** The numbers of the signals passed on. */
  readonly signals: readonly number[];
  /** The process exists now: deliver what arrived meanwhile, and everything after. */
  attach(started: Started): void;
  /** Put launch's own dispositions back. */
  dispose(): void;
}

/** Install the handlers before the clone, so a signal that arrives while the process starts
 * is held and delivered once it has a pid. With a terminal relay, SIGWINCH resizes the pty
 * instead (lib/runtime/terminal.ts). */
export function forwardSignals(opts: { terminal: boolean }): Forwarder {
  const signals = FORWARDED.filter((name) => !(name === 'SIGWINCH' && opts.terminal)).map((name) => os.signals[name]);
  const addon = native();
  const errno = addon.forwardSignals(signals);
  if (errno) throw hostError('cannot install the signal handlers', { errno });
  return {
    signals,
    attach(started) {
      const err = addon.forwardTo(started.pidfd);
      if (err) throw hostError('cannot forward signals to the container', { errno: err });
    },
    dispose() {
      addon.stopForwarding();
    },
  };
}
