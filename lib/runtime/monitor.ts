// A foreground `run` waits for its container in a native monitor (addon/monitor/), not in
// Node: once the container's process runs, launch execve()s the monitor in its own pid, so the
// shell still waits on the same process and gets the same exit status, while what stays
// resident is a small static program instead of a Node heap. The monitor forwards signals,
// relays the terminal, reaps the init, and then does the teardown TypeScript planned here:
// poststop hooks, the cgroup directories, the state directory.
import { existsSync } from 'node:fs';
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
  /** The state directory (plain files and FIFOs only). */
  stateDir: string;
}

export interface Handover {
  pidfd: number;
  /** Passed on to the init (signals.ts: FORWARDED, without SIGWINCH when relaying a pty). */
  forward: readonly number[];
  /** process.terminal without a console socket: the pty master to relay to our stdio. */
  ptyMaster?: number;
  /** Absent with --keep. */
  teardown?: Teardown;
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
    for (const dir of t.rmdirs) argv.push('--rmdir', dir);
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
export function handOver(image: Buffer | string, h: Handover): unknown {
  const keep = [h.pidfd, ...(h.ptyMaster === undefined ? [] : [h.ptyMaster])];
  try {
    native().execMonitor(image, monitorArgv(h), keep);
  } catch (err) {
    return err;
  }
  return new Error('execMonitor returned');
}
