// Process facts from /proc, to tell a container's process from a later one that reuses its
// pid, and a live process from a zombie waiting for its parent.
import { readFileSync } from 'node:fs';

function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count from the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined. */
export function processStartTime(pid: number): number | undefined {
  const f = statFields(pid);
  return f ? Number(f[19]) : undefined;
}

/** The process exists, is not a zombie, and (when known) started when the container's did. */
export function isAlive(pid: number, started?: number): boolean {
  const f = statFields(pid);
  if (!f || f[0] === 'Z' || f[0] === 'X') return false;
  return started === undefined || Number(f[19]) === started;
}

/** Block this thread for `ms` (the verbs that poll the kernel are synchronous CLI steps). */
export function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
