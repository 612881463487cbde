// A foreground `run` waits for its container in a native monitor (addon/monitor/), not in
// Node: once the container's process runs, launch execve()s the monitor in its own pid, so the
// shell still waits on the same process and gets the same exit status, while what stays
// resident is a small static program instead of a Node heap. The monitor forwards signals,
// relays the terminal, reaps the init, and then does the teardown TypeScript planned here:
// poststop hooks, the cgroup directories, the state directory.
import { closeSync, existsSync } from 'node:fs';
import type { Hook } from '../spec/schema.js';
import { asset, isBinary } from './embedded.js';
import { hookEnvEntries, hookTimeout } from './hooks.js';
import { addonDir, native } from './native.js';

/** What is left to do once the container's init has exited. */
export interface Teardown {
  /** poststop hooks and their stdin (the OCI state, status `stopped`). */
  poststop: { hooks: readonly Hook[]; state: string };
  /** In order, children first; one still busy is left for `launch delete`. */
  rmdirs: readonly string[];
  /** Those of rmdirs that are the container's own: the cgroups it made below them go first. */
  own?: readonly string[];
  /** The state directory (plain files, FIFOs and sockets only). */
  stateDir: string;
  /** The network helper (lib/network/), stopped first. */
  stopPid?: number;
}

export interface Handover {
  pidfd: number;
  /** Passed on to the init (signals.ts: FORWARDED, without SIGWINCH when relaying a pty). */
  forward: readonly number[];
  /** process.terminal without a console socket: the pty master to relay to our stdio. */
  ptyMaster?: number;
  /** Absent with --keep. */
  teardown?: Teardown;
  /** A pidfd of teardown.stopPid, opened by handOver. */
  stopPidfd?: number;
}

/** The monitor's command line (its grammar: addon/monitor/monitor.c). */
export function monitorArgv(h: Handover): string[] {
  const argv = ['launch', '--pidfd', String(h.pidfd)];
  if (h.forward.length) argv.push('--forward', h.forward.join(','));
  if (h.ptyMaster !== undefined) argv.push('--pty', String(h.ptyMaster));
  const t = h.teardown;
  if (t) {
    if (t.poststop.hooks.length) argv.push('--state', t.poststop.state);
    t.poststop.hooks.forEach((hook, i) => {
      const args = hook.args ?? [];
      argv.push('--hook', `hooks.poststop[${i}]`, String(hookTimeout(hook) ?? 0), hook.path, String(args.length), ...args);
      const env = hookEnvEntries(hook);
      if (env) argv.push(String(env.length), ...env);
      else argv.push('-1');
    });
    if (h.stopPidfd !== undefined) argv.push('--stop-pidfd', String(h.stopPidfd));
    for (const dir of t.rmdirs) argv.push(t.own?.includes(dir) ? '--rmdir-own' : '--rmdir', dir);
    argv.push('--remove-dir', t.stateDir);
  }
  return argv;
}

/** The monitor program: carried inside the single executable, else built next to the addon.
 * Undefined when there is none (then launch waits in Node, as before). */
export function monitorImage(): Buffer | string | undefined {
  if (isBinary()) return asset('monitor');
  const path = `${addonDir()}/launch-monitor`;
  return existsSync(path) ? path : undefined;
}

/** Become the monitor. Returns only if the exec failed (the caller then waits itself). */
export function handOver(image: Buffer | string, given: Handover): unknown {
  let h = given;
  try {
    // A pidfd, not the pid: the helper is not our child, and its pid could be reused.
    if (h.teardown?.stopPid) h = { ...h, stopPidfd: native().pidfdOpen(h.teardown.stopPid) };
  } catch {
    /* gone already: nothing to stop */
  }
  const keep = [h.pidfd, ...(h.ptyMaster === undefined ? [] : [h.ptyMaster]), ...(h.stopPidfd === undefined ? [] : [h.stopPidfd])];
  try {
    native().execMonitor(image, monitorArgv(h), keep);
  } catch (err) {
    if (h.stopPidfd !== undefined) closeSync(h.stopPidfd);
    return err;
  }
  return new Error('execMonitor returned');
}
