// `launch list [--format table|json] [--quiet]`: the containers under --root, as runc list
// (lib/lifecycle/list.ts).
import { list } from '../lifecycle/list.js';
import type { GlobalOptions } from './main.js';

export function listVerb(o: GlobalOptions & { format: string; quiet: boolean }): void {
  const rows = list(o.root);
  if (o.quiet) {
    for (const r of rows) process.stdout.write(`${r.id}\n`);
    return;
  }
  if (o.format === 'json') {
    // runc prints `null` for none; an empty array is what callers can iterate.
    process.stdout.write(`${JSON.stringify(rows)}\n`);
    return;
  }
  const table = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...rows.map((r) => [r.id, String(r.pid), r.status, r.bundle, r.created, r.owner])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) process.stdout.write(`${row.map((cell, c) => (c < row.length - 1 ? cell.padEnd(widths[c]! + 3) : cell)).join('')}\n`);
}
