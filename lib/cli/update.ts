// `launch update [flags] ID`: change a live container's limits, with runc's flags, or a
// whole resources document from `--resources FILE` (`-` for stdin).
import { readFileSync } from 'node:fs';
import { updateResources } from '../cgroups/control.js';
import { usageError } from '../errors.js';
import { issueError, parseJson } from '../spec/load.js';
import { ResourcesSchema, type Resources } from '../spec/schema.js';
import type { GlobalOptions } from './main.js';
import { lockedState } from '../lifecycle/state.js';

/** "64m", "1G", "1048576", "-1" -> bytes (runc uses docker's RAMInBytes). */
export function parseBytes(text: string, flag: string): number {
  if (text === '-1') return -1;
  const m = /^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$/i.exec(text.trim());
  if (!m) throw usageError(`--${flag}: expected a size like 64m or 1073741824, got \`${text}\``);
  const mult = { '': 1, k: 2 ** 10, m: 2 ** 20, g: 2 ** 30, t: 2 ** 40, p: 2 ** 50 }[m[2]!.toLowerCase() as '']!;
  return Math.round(Number(m[1]) * mult);
}

export interface UpdateFlags {
  resources?: string;
  memory?: string;
  'memory-reservation'?: string;
  'memory-swap'?: string;
  'pids-limit'?: number;
  'cpu-period'?: number;
  'cpu-quota'?: number;
  'cpu-share'?: number;
  'cpu-rt-period'?: number;
  'cpu-rt-runtime'?: number;
  'cpuset-cpus'?: string;
  'cpuset-mems'?: string;
  'blkio-weight'?: number;
}

export function resourcesFromFlags(f: UpdateFlags): Resources {
  if (f.resources !== undefined) {
    const file = f.resources === '-' ? '/dev/stdin' : f.resources;
    const doc = parseJson(readFileSync(file === '/dev/stdin' ? 0 : file, 'utf8'), file);
    const r = ResourcesSchema.safeParse(doc);
    if (!r.success) throw issueError(r.error.issues, file);
    return r.data;
  }
  const r: Resources = {};
  const mem = {
    ...(f.memory !== undefined ? { limit: parseBytes(f.memory, 'memory') } : {}),
    ...(f['memory-reservation'] !== undefined ? { reservation: parseBytes(f['memory-reservation'], 'memory-reservation') } : {}),
    ...(f['memory-swap'] !== undefined ? { swap: parseBytes(f['memory-swap'], 'memory-swap') } : {}),
  };
  if (Object.keys(mem).length) r.memory = mem;
  const cpu = {
    ...(f['cpu-period'] !== undefined ? { period: f['cpu-period'] } : {}),
    ...(f['cpu-quota'] !== undefined ? { quota: f['cpu-quota'] } : {}),
    ...(f['cpu-share'] !== undefined ? { shares: f['cpu-share'] } : {}),
    ...(f['cpu-rt-period'] !== undefined ? { realtimePeriod: f['cpu-rt-period'] } : {}),
    ...(f['cpu-rt-runtime'] !== undefined ? { realtimeRuntime: f['cpu-rt-runtime'] } : {}),
    ...(f['cpuset-cpus'] !== undefined ? { cpus: f['cpuset-cpus'] } : {}),
    ...(f['cpuset-mems'] !== undefined ? { mems: f['cpuset-mems'] } : {}),
  };
  if (Object.keys(cpu).length) r.cpu = cpu;
  if (f['pids-limit'] !== undefined) r.pids = { limit: f['pids-limit'] };
  if (f['blkio-weight'] !== undefined) r.blockIO = { weight: f['blkio-weight'] };
  return r;
}

export function updateVerb(o: GlobalOptions & { id: string; flags: UpdateFlags }): void {
  const { state, release } = lockedState(o.root, o.id);
  try {
    const resources = resourcesFromFlags(o.flags);
    // Unless the update says, as configured at create (never config.json as it is now).
    updateResources(state, resources, resources.memory?.checkBeforeUpdate ?? state.config?.checkBeforeUpdate === true);
  } finally {
    release();
  }
}
