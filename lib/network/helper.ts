// What both network helpers (pasta, slirp4netns) share: the container's namespaces handed to
// them as open fds, their record in the state directory, and stopping them. A helper lives
// as long as the container's state: the monitor stops it when a foreground run ends (through
// a pidfd), `launch delete` (and any failed start) through this record.
import { closeSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromNodeError } from '../errors.js';
import { isAlive, processStartTime, sleepSync } from '../state/proc.js';

/** In the state directory: the running helper ({pid, started}), written once it is up. */
export const HELPER_RECORD = 'network.json';
/** pasta's own pid file (-P), there before launch has read it. */
export const PASTA_PIDFILE = 'pasta.pid';
/** The helpers' stderr: read back when one fails to start. */
export const HELPER_LOG = 'network.log';

/** Open the init's network (and user) namespace for a helper, as /proc/self/fd/3 and 4 in it.
 * Opened here, by launch, because pasta drops its capabilities before it opens a path: a
 * process it may not ptrace (the init as root) would refuse it. */
export function namespaceFds(pid: number, userns: boolean): number[] {
  const fds: number[] = [];
  try {
    for (const ns of userns ? ['net', 'user'] : ['net']) fds.push(openSync(`/proc/${pid}/ns/${ns}`, 'r'));
    return fds;
  } catch (err) {
    for (const fd of fds) closeSync(fd);
    throw fromNodeError('host', "cannot open the container's namespaces for the network helper", err, { file: `/proc/${pid}/ns` });
  }
}

export function recordHelper(stateDir: string, pid: number): void {
  writeFileSync(join(stateDir, HELPER_RECORD), JSON.stringify({ pid, started: processStartTime(pid) }));
}

/** The last lines a helper wrote, without pasta's complaints about a missing syslog. */
export function helperLog(stateDir: string): string {
  let text = '';
  try {
    text = readFileSync(join(stateDir, HELPER_LOG), 'utf8');
  } catch {
    return '';
  }
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l && !/^Failed to send \d+ bytes to syslog$/.test(l));
  return lines.slice(-2).join('; ');
}

function recorded(stateDir: string): number | undefined {
  try {
    const r = JSON.parse(readFileSync(join(stateDir, HELPER_RECORD), 'utf8')) as { pid: number; started?: number };
    return isAlive(r.pid, r.started) ? r.pid : undefined;
  } catch {
    /* not recorded yet: pasta's pid file, if its command line names this directory */
  }
  try {
    const pid = Number(readFileSync(join(stateDir, PASTA_PIDFILE), 'utf8').trim());
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return Number.isInteger(pid) && pid > 0 && cmdline.includes(join(stateDir, PASTA_PIDFILE)) && isAlive(pid) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Stop the container's network helper, if it has one that still runs: SIGTERM, up to a
 * second, then SIGKILL. Safe to call on any state directory. */
export function stopHelper(stateDir: string): void {
  const pid = recorded(stateDir);
  if (pid === undefined) return;
  const started = processStartTime(pid);
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(pid, sig);
    } catch {
      /* gone */
    }
  };
  signal('SIGTERM');
  for (let i = 0; i < 100 && isAlive(pid, started); i++) sleepSync(10);
  if (isAlive(pid, started)) signal('SIGKILL');
}
