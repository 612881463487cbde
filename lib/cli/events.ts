// `launch events [--stats] [--interval 5s] ID`: the container's cgroup figures as runc's JSON
// events, one per line: every interval a "stats" event, an "oom" event as soon as the kernel's
// OOM killer strikes in the container; ends when the container stops.
import { cgroupOf } from '../cgroups/control.js';
import { oomKills, readStats } from '../cgroups/stats.js';
import { usageError } from '../errors.js';
import { isAlive } from '../state/proc.js';
import type { GlobalOptions } from './main.js';
import { currentState } from '../lifecycle/state.js';

/** runc's durations: "5s", "500ms", "1m", or plain seconds. */
export function parseInterval(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m || Number(m[1]) <= 0) throw usageError(`--interval: expected a duration like 5s or 500ms, got \`${text}\``);
  return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's'];
}

const emit = (event: object) => process.stdout.write(`${JSON.stringify(event)}\n`);

export async function eventsVerb(o: GlobalOptions & { id: string; stats: boolean; interval: string }): Promise<void> {
  const every = parseInterval(o.interval);
  const state = currentState(o.root, o.id);
  const cg = cgroupOf(state);
  const stats = () => emit({ type: 'stats', id: o.id, data: readStats(cg) });
  if (o.stats) {
    stats();
    return;
  }
  // OOM kills are polled often (the counter only grows); stats go out every interval.
  const tick = Math.min(every, 100);
  let ooms = oomKills(cg);
  let next = Date.now();
  while (state.pid === undefined || isAlive(state.pid, state.started)) {
    const now = oomKills(cg);
    if (now > ooms) emit({ type: 'oom', id: o.id });
    ooms = now;
    if (Date.now() >= next) {
      stats();
      next += every;
    }
    await new Promise((r) => setTimeout(r, tick));
  }
}
