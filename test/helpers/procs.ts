// Processes seen from /proc, for tests that check nothing of theirs is left running.
import { readFileSync, readdirSync } from 'node:fs';

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
