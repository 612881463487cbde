// Processes seen from /proc and cgroups seen from /sys/fs/cgroup, for tests that check nothing
// of theirs is left running or behind.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** Processes whose command line contains `marker`, other than ourselves. */
export function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${name}/cmdline`, 'utf8').includes(marker)) pids.push(Number(name));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** Directories named `id` in any cgroup hierarchy (v1: one per controller; v2: the one). */
export function cgroupDirsNamed(id: string): string[] {
  const found: string[] = [];
  const walk = (dir: string, depth: number) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      if (!e.isDirectory()) continue;
      if (e.name === id) found.push(join(dir, e.name));
      else if (depth > 0) walk(join(dir, e.name), depth - 1);
    }
  };
  walk('/sys/fs/cgroup', 5);
  return found;
}
