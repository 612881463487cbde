// `launch list [--format table|json] [--quiet]`: the containers under --root, as runc list.
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { StateStore } from '../state/store.js';
import type { GlobalOptions } from './main.js';
import { currentState } from './state.js';

interface Row {
  ociVersion: string;
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

function ownerName(uid: number): string {
  try {
    return uid === process.getuid!() ? userInfo().username : `#${uid}`;
  } catch {
    return `#${uid}`;
  }
}

export function listRows(o: GlobalOptions): Row[] {
  const store = new StateStore(o.root);
  const rows: Row[] = [];
  for (const id of store.list()) {
    let s;
    try {
      s = currentState(o, id);
    } catch {
      continue; // a directory being created or removed right now
    }
    rows.push({
      ociVersion: s.ociVersion,
      id: s.id,
      // runc shows 0 for a stopped container.
      pid: s.status === 'stopped' ? 0 : (s.pid ?? 0),
      status: s.status,
      bundle: s.bundle,
      rootfs: s.rootfs ?? '',
      created: s.created ?? '',
      owner: ownerName(statSync(store.dir(id)).uid),
      ...(s.annotations ? { annotations: s.annotations } : {}),
    });
  }
  return rows;
}

export function listVerb(o: GlobalOptions & { format: string; quiet: boolean }): void {
  const rows = listRows(o);
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
