// `run` in the foreground: start the container, pass signals on, relay the terminal if there
// is one, and come back with the shell's idea of the exit status (code, or 128+signal).
import { closeSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { constants as os } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createCgroup, joinCgroup, planCgroup, removeDirs, v1Hierarchies } from '../cgroups/manager.js';
import { ignoredFields } from '../cgroups/values.js';
import { fromNodeError } from '../errors.js';
import { probeHost } from '../host.js';
import { buildPlan } from '../plan/build.js';
import type { Spec } from '../spec/schema.js';
import { processStartTime } from '../state/proc.js';
import { StateStore } from '../state/store.js';
import { type Started, startContainer } from './launcher.js';
import { native } from './native.js';
import { relayTerminal } from './terminal.js';

export interface RunOptions {
  id: string;
  bundle: string;
  stateRoot: string;
  pidFile?: string;
  /** Called with --debug notes (e.g. "added a user namespace"). */
  debug?: (line: string) => void;
}

// The signals a shell or CI runner sends to stop or poke a job, passed on to the container.
const FORWARDED = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2', 'SIGWINCH', 'SIGCONT'] as const;

export function writePidFile(file: string, pid: number): void {
  const abs = resolve(file);
  const tmp = join(dirname(abs), `.${process.pid}.pid.tmp`);
  try {
    writeFileSync(tmp, String(pid));
    renameSync(tmp, abs);
  } catch (err) {
    throw fromNodeError('usage', 'cannot write the pid file', err, { file: abs });
  }
}

export async function runForeground(spec: Spec, opts: RunOptions): Promise<number> {
  const host = probeHost();
  const store = new StateStore(opts.stateRoot);
  store.claim(opts.id);
  let pty: { master: number; slave: number } | undefined;
  const handlers = new Map<string, () => void>();
  let cgroupDirs: string[] = [];
  try {
    const selfCgroup = readFileSync('/proc/self/cgroup', 'utf8');
    const cgroup = planCgroup(spec, opts.id, { uid: host.uid, version: host.cgroupVersion, mount: '/sys/fs/cgroup', selfCgroup });
    if (cgroup) {
      const resources = spec.linux?.resources ?? {};
      const dropped = ignoredFields(resources, cgroup.version);
      if (cgroup.version === 2 && resources.devices?.length) dropped.push('linux.resources.devices (an eBPF filter on v2: not yet)');
      for (const f of dropped) opts.debug?.(`${f}: not applied on cgroup v${cgroup.version}`);
    }
    // Limits are in place before the container exists; it joins while it waits at its sync.
    if (cgroup) cgroupDirs = createCgroup(cgroup);
    if (spec.process?.terminal) pty = native().openPty();
    const plan = buildPlan(spec, {
      bundle: opts.bundle,
      host,
      ttySlaveFd: pty?.slave,
      dieWithParent: true,
      cgroupV1: host.cgroupVersion === 1 ? v1Hierarchies(selfCgroup, cgroup, '/sys/fs/cgroup') : undefined,
    });
    for (const note of plan.notes) opts.debug?.(note);
    // Handlers go in before the clone: a signal that arrives while the container starts
    // (it may print "ready" before we get here) is held and delivered once it has a pid.
    let started: Started | undefined;
    const pending: number[] = [];
    for (const name of FORWARDED) {
      if (name === 'SIGWINCH' && pty) continue; // the terminal relay resizes the pty instead
      const handler = () => {
        if (started) started.kill(os.signals[name]);
        else pending.push(os.signals[name]);
      };
      handlers.set(name, handler);
      process.on(name, handler);
    }
    started = await startContainer(plan, {
      host,
      beforeRelease: (pid) => {
        if (cgroup) joinCgroup(cgroup, pid);
        store.write({
          ociVersion: spec.ociVersion ?? '1.2.0',
          id: opts.id,
          status: 'running',
          pid,
          started: processStartTime(pid),
          bundle: opts.bundle,
          annotations: spec.annotations,
          ...(cgroup ? { cgroup: { version: cgroup.version, dirs: cgroup.dirs } } : {}),
        });
        if (opts.pidFile) writePidFile(opts.pidFile, pid);
      },
    });
    for (const sig of pending) started.kill(sig);
    if (pty) {
      closeSync(pty.slave);
      pty.slave = -1;
    }

    const relay = pty ? relayTerminal(pty.master) : undefined;
    const status = await started.exited;
    await relay?.done();
    started.release();
    return status.signal ? 128 + status.signal : (status.code ?? 125);
  } finally {
    for (const [name, handler] of handlers) process.off(name, handler);
    if (pty && pty.slave >= 0) closeSync(pty.slave);
    // The container has been reaped by now (on failure too): its cgroups are empty.
    const left = removeDirs(cgroupDirs);
    if (left.length) opts.debug?.(`cgroups left behind (still in use): ${left.join(', ')}`);
    store.remove(opts.id);
  }
}
