// `launch ps [--format table|json] ID [PS_ARGS...]`: the container's processes, as runc: JSON
// is the list of host pids; the table is `ps` (default `-ef`) filtered to those pids.
import { spawnSync } from 'node:child_process';
import { containerPids } from '../cgroups/control.js';
import { hostError } from '../errors.js';
import type { GlobalOptions } from './main.js';
import { currentState } from '../lifecycle/state.js';

export function psVerb(o: GlobalOptions & { id: string; format: string; psArgs: string[] }): void {
  const pids = containerPids(currentState(o.root, o.id));
  if (o.format === 'json') {
    process.stdout.write(`${JSON.stringify(pids)}\n`);
    return;
  }
  const r = spawnSync('ps', o.psArgs.length ? o.psArgs : ['-ef'], { encoding: 'utf8' });
  if (r.status !== 0) throw hostError(`ps failed: ${(r.stderr ?? '').trim() || r.error?.message}`);
  const [header, ...lines] = r.stdout.split('\n');
  const col = (header ?? '').trim().split(/\s+/).indexOf('PID');
  if (col < 0) throw hostError('ps output has no PID column');
  const wanted = new Set(pids);
  const rows = lines.filter((l) => wanted.has(Number(l.trim().split(/\s+/)[col])));
  process.stdout.write([header, ...rows].join('\n') + '\n');
}
