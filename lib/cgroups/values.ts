// OCI linux.resources -> the cgroup files to write, for cgroup v1 and v2, as runc writes them
// (fs/*.go and fs2/*.go of github.com/opencontainers/cgroups, which runc uses since 1.3; the
// spec-to-config step is runc's libcontainer/specconv). Pure: no I/O, so each mapping is a
// unit test. apply.ts writes the list.
//
// Order. The list is in runc's order: v1 by subsystem (cpuset, devices, memory, cpu, pids,
// blkio, hugetlb, net_cls, net_prio, rdma), v2 as fs2.Manager.Set (pids, memory, io, cpu,
// cpuset, hugetlb, rdma, then `unified`, last so that it overrides). Within a controller:
//   - v1 memory: limit, then memsw, which suits a new cgroup (both start at "max"); runc
//     writes memsw first when the new memsw is above the current limit, or is -1 — the
//     former needs the current value: orderForCurrent() applies that rule for `update`.
//   - cpu period (v1) and burst (v1, v2) come before the quota and carry `retryAfter`: the
//     kernel may refuse them (EINVAL) until the new quota is in, so applyWrites() retries
//     them once right after it, as runc does.
// Write the list before the container process joins the cgroup: v1 cpuset must not be empty
// when a task joins, and runc sets the realtime budget first for SCHED_RR tasks.
//
// Values runc takes as "leave alone" (0 for limits, shares, quota, period, weights, classID)
// produce no write. checkBeforeUpdate is behaviour (compare memory.current before an update),
// not a file. Devices on v2 are an eBPF program, not a file: not here. ignoredFields() lists
// what runc silently drops on each version, so the caller can warn.
//
// `resources` is expected to have passed ResourcesSchema (integers within their JSON types);
// the checks here are the ones the schema cannot make, because they depend on the file the
// value goes to. Each throws a spec error naming the exact config path.
import { specError } from '../errors.js';
import { formatConfigPath } from '../spec/load.js';
import type { Resources } from '../spec/schema.js';
import {
  blkioToIoWeight, cpuList, cpuMax, cpuSharesToWeight, devNum, i64, intIn, memLimit, pageSize, swapForV2, u64,
  v2Limit, word,
} from './convert.js';

export interface CgroupWrite {
  /** v1: the hierarchy ('memory', 'cpu', 'cpuset', 'pids', 'blkio', 'hugetlb', 'net_cls',
   * 'net_prio', 'rdma', 'devices'); v2: the controller the file belongs to ('memory'). */
  controller: string;
  /** File name in that controller's directory, e.g. 'memory.limit_in_bytes' or 'memory.max'. */
  file: string;
  value: string;
  /** The config entry this write comes from, e.g. 'linux.resources.memory.limit'. */
  configPath: string;
  /** A missing file (ENOENT) means this kernel lacks the knob: skip it, as runc does. */
  optional?: boolean;
  /** When `file` is missing (ENOENT), write this instead (runc picks by existence). */
  fallback?: { file: string; value: string };
  /** On EINVAL, retry once right after the write of this file (same controller) succeeds. */
  retryAfter?: string;
}

const R = 'linux.resources';
const at = (...path: (string | number)[]) => formatConfigPath(['linux', 'resources', ...path]);
type Extra = Pick<CgroupWrite, 'optional' | 'fallback' | 'retryAfter'>;

function writer() {
  const list: CgroupWrite[] = [];
  const add = (controller: string, file: string, value: string, configPath: string, extra: Extra = {}) => {
    list.push({ controller, file, value, configPath, ...extra });
  };
  return { list, add };
}
type Add = ReturnType<typeof writer>['add'];

const nz = (v: number | undefined): v is number => v !== undefined && v !== 0;

/** A blkio weight: 0 leaves it alone; CFQ takes 10..1000 and BFQ 1..1000. */
const weight = (v: number, path: string) => intIn(v, path, 1, 1000);

function hugetlb(r: Resources, add: Add, limitSuffix: string) {
  r.hugepageLimits?.forEach((h, i) => {
    const size = pageSize(h.pageSize, at('hugepageLimits', i, 'pageSize'));
    const path = at('hugepageLimits', i, 'limit');
    const value = u64(h.limit);
    add('hugetlb', `hugetlb.${size}.${limitSuffix}`, value, path);
    // The reservation limit (Linux 5.7) is what mmap(MAP_HUGETLB) is charged against: runc sets
    // it to the same value where it exists.
    add('hugetlb', `hugetlb.${size}.rsvd.${limitSuffix}`, value, path, { optional: true });
  });
}

function rdma(r: Resources, add: Add) {
  for (const [dev, lim] of Object.entries(r.rdma ?? {})) {
    let line = word(dev, at('rdma', dev), 'an rdma device name');
    if (lim.hcaHandles !== undefined) line += ` hca_handle=${lim.hcaHandles}`;
    if (lim.hcaObjects !== undefined) line += ` hca_object=${lim.hcaObjects}`;
    add('rdma', 'rdma.max', line, at('rdma', dev));
  }
}

/** pids.max: -1 (any negative) is "max"; 0 is a real limit of 0 since runc 1.4 (runtime-spec
 * 1.3 made the field optional instead of taking 0 as "unset"). */
function pids(r: Resources, add: Add) {
  if (r.pids === undefined) return;
  const limit = r.pids.limit;
  add('pids', 'pids.max', limit < 0 ? 'max' : i64(limit), at('pids', 'limit'));
}

function cpuset(r: Resources, add: Add) {
  const c = r.cpu;
  if (c?.cpus) add('cpuset', 'cpuset.cpus', cpuList(c.cpus, at('cpu', 'cpus')), at('cpu', 'cpus'));
  if (c?.mems) add('cpuset', 'cpuset.mems', cpuList(c.mems, at('cpu', 'mems')), at('cpu', 'mems'));
}

const idle = (v: number) => String(intIn(v, at('cpu', 'idle'), 0, 1));

/** The writes runc makes for `resources` on cgroup v1, in runc's order. */
export function v1Writes(r: Resources): CgroupWrite[] {
  const { list, add } = writer();
  if (r.unified !== undefined && Object.keys(r.unified).length > 0) {
    throw specError('cannot be used on cgroup v1 (runc refuses it too)', { configPath: at('unified') });
  }
  cpuset(r, add);

  if (r.devices !== undefined) {
    // runc starts from deny-all and applies the rules in order (its devices emulator reduces
    // them to the fewest writes; writing them all has the same result on a new cgroup).
    add('devices', 'devices.deny', 'a', at('devices'));
    r.devices.forEach((d, i) => {
      const type = d.type ?? 'a';
      const access = d.access ?? '';
      if (!/^[rwm]{1,3}$/.test(access)) {
        throw specError(access === '' ? 'must not be empty (runc refuses it too)' : `expected a combination of "r", "w" and "m", got ${JSON.stringify(access)}`, {
          configPath: at('devices', i, 'access'),
        });
      }
      const line = `${type} ${devNum(d.major, at('devices', i, 'major'), true)}:${devNum(d.minor, at('devices', i, 'minor'), true)} ${access}`;
      add('devices', d.allow ? 'devices.allow' : 'devices.deny', line, at('devices', i));
    });
  }

  const m = r.memory;
  if (m !== undefined) {
    const limit = memLimit(m.limit ?? 0, at('memory', 'limit'));
    const swap = memLimit(m.swap ?? 0, at('memory', 'swap'));
    const reservation = memLimit(m.reservation ?? 0, at('memory', 'reservation'));
    if (limit > 0 && swap > 0 && swap < limit) {
      throw specError(`is memory plus swap, so it must be at least ${R}.memory.limit (${i64(limit)}), got ${i64(swap)}`, {
        configPath: at('memory', 'swap'),
      });
    }
    // "No memory limit" with swap left out means no swap limit either, where the kernel has one.
    const derived = limit === -1 && swap === 0;
    const memsw = derived ? -1 : swap;
    const lim = { controller: 'memory', file: 'memory.limit_in_bytes', value: i64(limit), configPath: at('memory', 'limit') };
    const sw: CgroupWrite = { controller: 'memory', file: 'memory.memsw.limit_in_bytes', value: i64(memsw), configPath: at('memory', derived ? 'limit' : 'swap') };
    if (derived) sw.optional = true;
    const pair = memsw === -1 ? [sw, lim] : [lim, sw];
    for (const w of pair) if (w.value !== '0') list.push(w);
    // runc 1.1 drops both with a warning ("Kernel memory settings are ignored"); v1 kernels
    // still have the TCP buffer limit (unlike memory.kmem.limit_in_bytes, deprecated in 5.16),
    // so it is set, as runc 1.0 did. A kernel without the file fails here naming the field,
    // rather than running the container without the limit it asked for.
    const tcp = memLimit(m.kernelTCP ?? 0, at('memory', 'kernelTCP'));
    if (tcp !== 0) add('memory', 'memory.kmem.tcp.limit_in_bytes', i64(tcp), at('memory', 'kernelTCP'));
    if (reservation !== 0) add('memory', 'memory.soft_limit_in_bytes', i64(reservation), at('memory', 'reservation'));
    if (m.disableOOMKiller) add('memory', 'memory.oom_control', '1', at('memory', 'disableOOMKiller'));
    if (m.swappiness !== undefined) add('memory', 'memory.swappiness', String(m.swappiness), at('memory', 'swappiness'));
  }

  const c = r.cpu;
  if (c !== undefined) {
    // The kernel clamps shares to [2, 262144] and runc fails when the value read back differs.
    if (nz(c.shares)) add('cpu', 'cpu.shares', String(intIn(c.shares, at('cpu', 'shares'), 2, 262144)), at('cpu', 'shares'));
    const quota = nz(c.quota) ? c.quota : 0;
    const retry = quota !== 0 ? { retryAfter: 'cpu.cfs_quota_us' } : {};
    if (nz(c.period)) add('cpu', 'cpu.cfs_period_us', u64(c.period), at('cpu', 'period'), retry);
    if (c.burst !== undefined) add('cpu', 'cpu.cfs_burst_us', u64(c.burst), at('cpu', 'burst'), { optional: true, ...retry });
    if (quota !== 0) add('cpu', 'cpu.cfs_quota_us', i64(quota), at('cpu', 'quota'));
    if (c.idle !== undefined) add('cpu', 'cpu.idle', idle(c.idle), at('cpu', 'idle'));
    if (nz(c.realtimePeriod)) add('cpu', 'cpu.rt_period_us', u64(c.realtimePeriod), at('cpu', 'realtimePeriod'));
    if (nz(c.realtimeRuntime)) add('cpu', 'cpu.rt_runtime_us', i64(c.realtimeRuntime), at('cpu', 'realtimeRuntime'));
  }

  pids(r, add);

  const b = r.blockIO;
  if (b !== undefined) {
    const dev = (d: { major: number; minor: number }, path: (string | number)[]) =>
      `${devNum(d.major, at(...path, 'major'), false)}:${devNum(d.minor, at(...path, 'minor'), false)}`;
    if (nz(b.weight)) {
      const v = String(weight(b.weight, at('blockIO', 'weight')));
      add('blkio', 'blkio.weight', v, at('blockIO', 'weight'), { fallback: { file: 'blkio.bfq.weight', value: v } });
    }
    if (nz(b.leafWeight)) add('blkio', 'blkio.leaf_weight', String(weight(b.leafWeight, at('blockIO', 'leafWeight'))), at('blockIO', 'leafWeight'));
    b.weightDevice?.forEach((d, i) => {
      const p = ['blockIO', 'weightDevice', i];
      if (nz(d.weight)) {
        const v = `${dev(d, p)} ${weight(d.weight, at(...p, 'weight'))}`;
        add('blkio', 'blkio.weight_device', v, at(...p, 'weight'), { fallback: { file: 'blkio.bfq.weight_device', value: v } });
      }
      if (nz(d.leafWeight)) add('blkio', 'blkio.leaf_weight_device', `${dev(d, p)} ${weight(d.leafWeight, at(...p, 'leafWeight'))}`, at(...p, 'leafWeight'));
    });
    for (const [key, file] of THROTTLE_V1) {
      // A rate of 0 removes a device's limit on v1, so it is written too.
      b[key]?.forEach((t, i) => add('blkio', file, `${dev(t, ['blockIO', key, i])} ${u64(t.rate)}`, at('blockIO', key, i)));
    }
  }

  hugetlb(r, add, 'limit_in_bytes');
  if (nz(r.network?.classID)) add('net_cls', 'net_cls.classid', u64(r.network.classID), at('network', 'classID'));
  r.network?.priorities?.forEach((p, i) => {
    const name = word(p.name, at('network', 'priorities', i, 'name'), 'an interface name');
    add('net_prio', 'net_prio.ifpriomap', `${name} ${p.priority}`, at('network', 'priorities', i));
  });
  rdma(r, add);
  return list;
}

type ThrottleKey = 'throttleReadBpsDevice' | 'throttleWriteBpsDevice' | 'throttleReadIOPSDevice' | 'throttleWriteIOPSDevice';
const THROTTLE_V1: [ThrottleKey, string][] = [
  ['throttleReadBpsDevice', 'blkio.throttle.read_bps_device'],
  ['throttleWriteBpsDevice', 'blkio.throttle.write_bps_device'],
  ['throttleReadIOPSDevice', 'blkio.throttle.read_iops_device'],
  ['throttleWriteIOPSDevice', 'blkio.throttle.write_iops_device'],
];
const THROTTLE_V2: [ThrottleKey, string][] = [
  ['throttleReadBpsDevice', 'rbps'], ['throttleWriteBpsDevice', 'wbps'],
  ['throttleReadIOPSDevice', 'riops'], ['throttleWriteIOPSDevice', 'wiops'],
];

/** The writes runc makes for `resources` on cgroup v2, in runc's order. */
export function v2Writes(r: Resources): CgroupWrite[] {
  const { list, add } = writer();
  pids(r, add);

  const m = r.memory;
  if (m !== undefined) {
    const limit = memLimit(m.limit ?? 0, at('memory', 'limit'));
    const swap = memLimit(m.swap ?? 0, at('memory', 'swap'));
    const reservation = memLimit(m.reservation ?? 0, at('memory', 'reservation'));
    // v2 has no TCP buffer limit of its own (socket memory counts in memory.max): a limit
    // that cannot be applied is refused, where runc drops it with a warning.
    if (nz(m.kernelTCP)) {
      throw specError('has no cgroup v2 file (TCP buffers count in memory.max there); remove it or use linux.resources.memory.limit', { configPath: at('memory', 'kernelTCP') });
    }
    const sw = swapForV2(swap, limit, `${R}.memory`);
    // 0 means "leave alone", except when swap equals the limit: then it means "no swap".
    const swapStr = sw === -1n ? 'max' : sw !== 0n || swap > 0 ? sw.toString() : '';
    const swapPath = at('memory', limit === -1 && swap === 0 ? 'limit' : 'swap');
    // Without swap accounting the file is missing: runc ignores that for "max" and "0" only.
    if (swapStr !== '') add('memory', 'memory.swap.max', swapStr, swapPath, swapStr === 'max' || swapStr === '0' ? { optional: true } : {});
    if (limit !== 0) add('memory', 'memory.max', v2Limit(limit), at('memory', 'limit'));
    if (reservation !== 0) add('memory', 'memory.low', v2Limit(reservation), at('memory', 'reservation'));
  }

  const b = r.blockIO;
  if (b !== undefined) {
    const dev = (d: { major: number; minor: number }, path: (string | number)[]) =>
      `${devNum(d.major, at(...path, 'major'), false)}:${devNum(d.minor, at(...path, 'minor'), false)}`;
    if (nz(b.weight)) {
      // BFQ takes the v1 weight as is; without it, io.weight takes the converted one.
      const w = weight(b.weight, at('blockIO', 'weight'));
      add('io', 'io.bfq.weight', String(w), at('blockIO', 'weight'), { fallback: { file: 'io.weight', value: String(blkioToIoWeight(w)) } });
    }
    // Per-device weights exist only with BFQ (Linux 5.4); runc skips them without it.
    b.weightDevice?.forEach((d, i) => {
      const p = ['blockIO', 'weightDevice', i];
      if (nz(d.weight)) add('io', 'io.bfq.weight', `${dev(d, p)} ${weight(d.weight, at(...p, 'weight'))}`, at(...p, 'weight'), { optional: true });
    });
    for (const [key, name] of THROTTLE_V2) {
      // On v2 runc skips a rate of 0 (it would mean "no I/O at all" in io.max).
      b[key]?.forEach((t, i) => {
        if (t.rate !== 0) add('io', 'io.max', `${dev(t, ['blockIO', key, i])} ${name}=${u64(t.rate)}`, at('blockIO', key, i));
      });
    }
  }

  const c = r.cpu;
  if (c !== undefined) {
    if (c.idle !== undefined) add('cpu', 'cpu.idle', idle(c.idle), at('cpu', 'idle'));
    // The kernel refuses cpu.weight while cpu.idle is 1.
    if (nz(c.shares) && !c.idle) add('cpu', 'cpu.weight', String(cpuSharesToWeight(c.shares)), at('cpu', 'shares'));
    const quota = nz(c.quota) ? c.quota : 0;
    const max = cpuMax(quota, nz(c.period) ? c.period : 0);
    if (c.burst !== undefined) add('cpu', 'cpu.max.burst', u64(c.burst), at('cpu', 'burst'), quota !== 0 ? { retryAfter: 'cpu.max' } : {});
    if (max !== undefined) add('cpu', 'cpu.max', max, at('cpu', quota !== 0 ? 'quota' : 'period'));
  }

  cpuset(r, add);
  hugetlb(r, add, 'max');
  rdma(r, add);

  for (const [key, value] of Object.entries(r.unified ?? {})) {
    const path = at('unified', key);
    // runc refuses a key with a slash; a name that is not CONTROLLER.PARAMETER names no file.
    if (!/^[A-Za-z0-9_]+\.[^/\s\0]+$/.test(key) || key.endsWith('.')) {
      throw specError(`expected a file name like "memory.high", got ${JSON.stringify(key)}`, { configPath: path });
    }
    if (value.includes('\0')) throw specError('must not contain a NUL byte', { configPath: path });
    // runc writes a value line by line (WriteFileByLine): each line is one command.
    const lines = value.includes('\n') ? value.split('\n').filter((l) => l !== '') : [value];
    for (const line of lines) add(key.slice(0, key.indexOf('.')), key, line, path);
  }
  return list;
}

/** The writes in the order runc would use for a cgroup whose files now read as `current`
 * (for `update`). v1 only needs it: memsw goes first when it is above the current memory
 * limit, or the kernel would refuse the new memory limit (it must stay <= memsw). */
export function orderForCurrent(writes: CgroupWrite[], current: (file: string) => string | undefined): CgroupWrite[] {
  const out = writes.slice();
  const mem = out.findIndex((w) => w.controller === 'memory' && w.file === 'memory.limit_in_bytes');
  const sw = out.findIndex((w) => w.controller === 'memory' && w.file === 'memory.memsw.limit_in_bytes');
  if (mem < 0 || sw < mem) return out;
  const text = current('memory.limit_in_bytes')?.trim();
  if (text === undefined || !/^\d+$/.test(text)) return out;
  if (BigInt(text) < BigInt(out[sw]!.value)) out.splice(mem, 0, ...out.splice(sw, 1));
  return out;
}

/** Config paths present in `resources` that runc drops without a word on this cgroup version
 * (the files do not exist there, or runc no longer writes them), for a warning. */
export function ignoredFields(r: Resources, version: 1 | 2): string[] {
  const out: string[] = [];
  const given = (v: unknown, ...path: (string | number)[]) => void (v !== undefined && out.push(at(...path)));
  // 0 and false are "leave alone" for these, so nothing is lost.
  const effective = (v: unknown, ...path: (string | number)[]) => given(v === 0 || v === false ? undefined : v, ...path);
  effective(r.memory?.kernel, 'memory', 'kernel');
  given(r.memory?.useHierarchy, 'memory', 'useHierarchy');
  if (version === 1) return out;
  given(r.memory?.swappiness, 'memory', 'swappiness');
  effective(r.memory?.disableOOMKiller, 'memory', 'disableOOMKiller');
  effective(r.cpu?.realtimeRuntime, 'cpu', 'realtimeRuntime');
  effective(r.cpu?.realtimePeriod, 'cpu', 'realtimePeriod');
  effective(r.blockIO?.leafWeight, 'blockIO', 'leafWeight');
  r.blockIO?.weightDevice?.forEach((d, i) => effective(d.leafWeight, 'blockIO', 'weightDevice', i, 'leafWeight'));
  effective(r.network?.classID, 'network', 'classID');
  r.network?.priorities?.forEach((p, i) => given(p, 'network', 'priorities', i));
  return out;
}
