// The runtime's side of linux.seccomp: the compiler the plan builder calls (the addon's
// libseccomp), and the hand-over of a notify fd to linux.seccomp.listenerPath.
import { fromNodeError } from '../errors.js';
import type { SeccompCompiler } from '../plan/seccomp.js';
import { type ContainerState, ociState } from '../state/store.js';
import { native } from './native.js';

export const seccompCompiler = (): SeccompCompiler => ({
  compile: (defaultAction, archs, rules) => native().compileSeccomp(defaultAction, archs, rules),
  flagsSupported: (flags) => native().seccompFlagsSupported(flags),
});

/** Send the listener fd to the seccomp agent at `path`, with the container process state of
 * config-linux.md ("fds": ["seccompFd"]) as the message, as runc does. */
export function sendSeccompFd(listener: { path: string; metadata: string }, fd: number, state: ContainerState): void {
  const message = {
    ociVersion: state.ociVersion,
    fds: ['seccompFd'],
    pid: state.pid,
    metadata: listener.metadata,
    state: ociState(state),
  };
  try {
    native().sendFd(listener.path, fd, JSON.stringify(message));
  } catch (err) {
    throw fromNodeError('setup', 'cannot hand the seccomp notify fd to', err, { configPath: 'linux.seccomp.listenerPath', file: listener.path });
  }
}
