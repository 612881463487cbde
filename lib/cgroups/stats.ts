// A container's cgroup figures in runc's `events` JSON shape (runc types/events.go): cpu,
// memory, pids, blkio, hugetlb; and the OOM-kill counter that `events` watches.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

type Dirs = Record<string, string>;
export interface CgroupRef { version: 1 | 2; dirs: Dirs }

const num = (text: string | undefined): number => {
  const t = (text ?? '').trim();
  if (t === 'max') return 2 ** 64 - 1;
  const n = Number(t);
  return Number.isFinite(n) ? n : 0;
};

function read(dir: string | undefined, file: string): string | undefined {
  if (!dir) return undefined;
  try {
    return readFileSync(join(dir, file), 'utf8');
  } catch {
    return undefined;
  }
}

/** "key value" lines (cpu.stat, memory.stat, memory.events) as a map. */
export function keyValues(text: string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of (text ?? '').split('\n')) {
    const [k, v] = line.trim().split(/\s+/);
    if (k && v !== undefined) out[k] = num(v);
  }
  return out;
}

// USER_HZ: cpuacct.stat counts in clock ticks; runc reports nanoseconds.
const TICK_NS = 1e9 / 100;

function blkioEntries(text: string | undefined): { major: number; minor: number; op: string; value: number }[] {
  const out: { major: number; minor: number; op: string; value: number }[] = [];
  for (const line of (text ?? '').split('\n')) {
    const m = /^(\d+):(\d+) (\S+) (\d+)$/.exec(line.trim());
    if (m) out.push({ major: Number(m[1]), minor: Number(m[2]), op: m[3]!, value: Number(m[4]) });
  }
  return out;
}

function hugetlb(dir: string | undefined, v2: boolean): Record<string, { usage: number; max?: number; failcnt: number }> {
  const out: Record<string, { usage: number; max?: number; failcnt: number }> = {};
  if (!dir) return out;
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return out;
  }
  for (const f of files) {
    const m = v2 ? /^hugetlb\.([^.]+)\.current$/.exec(f) : /^hugetlb\.([^.]+)\.usage_in_bytes$/.exec(f);
    if (!m) continue;
    const size = m[1]!;
    out[size] = v2
      ? { usage: num(read(dir, f)), failcnt: keyValues(read(dir, `hugetlb.${size}.events`)).max ?? 0 }
      : { usage: num(read(dir, f)), max: num(read(dir, `hugetlb.${size}.max_usage_in_bytes`)), failcnt: num(read(dir, `hugetlb.${size}.failcnt`)) };
  }
  return out;
}

function v1Stats(d: Dirs) {
  const cpuStat = keyValues(read(d.cpu, 'cpu.stat'));
  const acct = keyValues(read(d.cpuacct, 'cpuacct.stat'));
  const percpu = (read(d.cpuacct, 'cpuacct.usage_percpu') ?? '').trim().split(/\s+/).filter(Boolean).map(Number);
  const mem = (p: string) => ({
    limit: num(read(d.memory, `memory.${p}limit_in_bytes`)),
    usage: num(read(d.memory, `memory.${p}usage_in_bytes`)),
    max: num(read(d.memory, `memory.${p}max_usage_in_bytes`)),
    failcnt: num(read(d.memory, `memory.${p}failcnt`)),
  });
  const raw = keyValues(read(d.memory, 'memory.stat'));
  return {
    cpu: {
      usage: { total: num(read(d.cpuacct, 'cpuacct.usage')), percpu, kernel: (acct.system ?? 0) * TICK_NS, user: (acct.user ?? 0) * TICK_NS },
      throttling: { periods: cpuStat.nr_periods ?? 0, throttledPeriods: cpuStat.nr_throttled ?? 0, throttledTime: cpuStat.throttled_time ?? 0 },
    },
    memory: { cache: raw.cache ?? 0, usage: mem(''), swap: mem('memsw.'), kernel: mem('kmem.'), kernelTCP: mem('kmem.tcp.'), raw },
    pids: { current: num(read(d.pids, 'pids.current')), limit: num(read(d.pids, 'pids.max')) },
    blkio: { ioServiceBytesRecursive: blkioEntries(read(d.blkio, 'blkio.throttle.io_service_bytes_recursive')) },
    hugetlb: hugetlb(d.hugetlb, false),
  };
}

function v2Stats(dir: string) {
  const cpuStat = keyValues(read(dir, 'cpu.stat'));
  const raw = keyValues(read(dir, 'memory.stat'));
  const io: { major: number; minor: number; op: string; value: number }[] = [];
  for (const line of (read(dir, 'io.stat') ?? '').split('\n')) {
    const [dev, ...pairs] = line.trim().split(/\s+/);
    const m = /^(\d+):(\d+)$/.exec(dev ?? '');
    if (!m) continue;
    for (const p of pairs) {
      const [k, v] = p.split('=');
      if (k === 'rbytes' || k === 'wbytes') io.push({ major: Number(m[1]), minor: Number(m[2]), op: k === 'rbytes' ? 'Read' : 'Write', value: Number(v) });
    }
  }
  return {
    cpu: {
      usage: { total: (cpuStat.usage_usec ?? 0) * 1000, kernel: (cpuStat.system_usec ?? 0) * 1000, user: (cpuStat.user_usec ?? 0) * 1000 },
      throttling: { periods: cpuStat.nr_periods ?? 0, throttledPeriods: cpuStat.nr_throttled ?? 0, throttledTime: (cpuStat.throttled_usec ?? 0) * 1000 },
    },
    memory: {
      cache: raw.file ?? 0,
      usage: { limit: num(read(dir, 'memory.max')), usage: num(read(dir, 'memory.current')), max: num(read(dir, 'memory.peak')), failcnt: keyValues(read(dir, 'memory.events')).max ?? 0 },
      swap: { limit: num(read(dir, 'memory.swap.max')), usage: num(read(dir, 'memory.swap.current')), failcnt: 0 },
      raw,
    },
    pids: { current: num(read(dir, 'pids.current')), limit: num(read(dir, 'pids.max')) },
    blkio: { ioServiceBytesRecursive: io },
    hugetlb: hugetlb(dir, true),
  };
}

export function readStats(cg: CgroupRef) {
  return cg.version === 2 ? v2Stats(cg.dirs['']!) : v1Stats(cg.dirs);
}

/** How many times the kernel's OOM killer has killed in this cgroup so far. */
export function oomKills(cg: CgroupRef): number {
  const text = cg.version === 2 ? read(cg.dirs[''], 'memory.events') : read(cg.dirs.memory, 'memory.oom_control');
  return keyValues(text).oom_kill ?? 0;
}
