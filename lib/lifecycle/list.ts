// The containers under a state root, with their status as it is now: `launch list`
// (lib/cli/list.ts) prints these.
import { statSync } from 'node:fs';
import { userInfo } from 'node:os';
import { StateStore } from '../state/store.js';
import { currentState } from './state.js';

/** One container as `launch list` shows it (runc list's fields). */
export interface ContainerSummary {
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

/** Every container under the state root `root`, as it is now. */
export function list(root: string): ContainerSummary[] {
  const store = new StateStore(root);
  const rows: ContainerSummary[] = [];
  for (const id of store.list()) {
    let s;
    try {
      s = currentState(root, id);
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
