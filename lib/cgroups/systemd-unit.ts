// The systemd driver's pure half: `linux.cgroupsPath` (`slice:prefix:name`) to the unit
// systemd makes, and `linux.resources` to that unit's properties with their D-Bus types, as
// runc's systemd manager maps them (see systemd.ts for the sources and the differences).
import { specError } from '../errors.js';
import { formatConfigPath } from '../spec/load.js';
import type { Resources, Spec } from '../spec/schema.js';
import { blkioToIoWeight, cpuList, cpuSharesToWeight, i64, intIn, memLimit, swapForV2 } from './convert.js';
import { INFINITY, type Property, annotationProperties } from './systemd-gvariant.js';

export { INFINITY, type Property } from './systemd-gvariant.js';

// ---------------------------------------------------------------------------------------------
// linux.cgroupsPath -> unit
// ---------------------------------------------------------------------------------------------

export interface SystemdTarget {
  /** The parent slice: `Slice=` of a scope, `Wants=` of a slice. */
  slice: string;
  /** The unit to create: `<prefix>-<name>.scope`, or `<name>` when it ends in `.slice`. */
  unit: string;
  kind: 'scope' | 'slice';
}

const CGROUPS_PATH = 'linux.cgroupsPath';

/** A slice name to its cgroup path, as systemd (and runc's ExpandSlice) do: `-` nests, so
 * `a-b-c.slice` is /a.slice/a-b.slice/a-b-c.slice, and `-.slice` is the root. */
export function expandSlice(slice: string): string {
  const bad = () => specError(`invalid slice name \`${slice}\` (expected NAME.slice, with \`-\` for nesting and no \`/\`)`, { configPath: CGROUPS_PATH });
  if (!slice.endsWith('.slice') || slice.length <= '.slice'.length || slice.includes('/')) throw bad();
  const name = slice.slice(0, -'.slice'.length);
  if (name === '-') return '/';
  let path = '';
  let prefix = '';
  for (const part of name.split('-')) {
    if (part === '') throw bad(); // `a--b.slice`, `-a.slice`, `a-.slice`
    path += `/${prefix}${part}.slice`;
    prefix += `${part}-`;
  }
  return path;
}

/** systemd's unit_name_is_valid(): these characters only, at most 255 of them. */
function validUnitName(name: string): boolean {
  return name.length <= 255 && /^[A-Za-z0-9:_.\\-]+\.(scope|slice)$/.test(name) && !name.startsWith('.');
}

/** `linux.cgroupsPath` read as runc reads it with --systemd-cgroup: `slice:prefix:name`. An
 * empty slice is `system.slice` (root) or `user.slice` (rootless, in the user's instance); an
 * empty cgroupsPath is `:launch:<id>` (runc: `:runc:<id>`), so the unit is launch-<id>.scope. */
export function parseCgroupsPath(given: string | undefined, id: string, rootless: boolean): SystemdTarget {
  const path = given || `:launch:${id}`;
  const parts = path.split(':');
  if (parts.length !== 3) {
    throw specError(`expected \`slice:prefix:name\` with --systemd-cgroup (e.g. \`system.slice:launch:${id}\`), got \`${path}\``, { configPath: CGROUPS_PATH });
  }
  const [sliceGiven, prefix, name] = parts as [string, string, string];
  const slice = sliceGiven || (rootless ? 'user.slice' : 'system.slice');
  expandSlice(slice);
  if (name === '') throw specError(`the name in \`${path}\` is empty (expected \`slice:prefix:name\`)`, { configPath: CGROUPS_PATH });
  const kind = name.endsWith('.slice') ? 'slice' : 'scope';
  const unit = kind === 'slice' ? name : prefix ? `${prefix}-${name}.scope` : `${name}.scope`;
  if (kind === 'slice') expandSlice(unit);
  if (!validUnitName(unit)) {
    const hint = given ? '' : ' (the container id is part of it: set linux.cgroupsPath)';
    throw specError(`\`${unit}\` is not a valid systemd unit name: letters, digits and \`:_.\\-\` only, at most 255${hint}`, { configPath: CGROUPS_PATH });
  }
  return { slice, unit, kind };
}

// ---------------------------------------------------------------------------------------------
// resources -> unit properties
// ---------------------------------------------------------------------------------------------

const DEFAULT_PERIOD = 100000n;

const at = (...path: (string | number)[]) => formatConfigPath(['linux', 'resources', ...path]);

/** A cpuset list ("0-3,8") as the little-endian bitmask systemd takes for AllowedCPUs and
 * AllowedMemoryNodes (`ay`: byte i holds CPUs 8i..8i+7, no trailing zero bytes), as runc's
 * RangeToBits. */
export function rangeToBits(list: string, configPath: string): Buffer {
  cpuList(list, configPath);
  const bytes: number[] = [];
  for (const item of list.split(/[,\s]+/).filter(Boolean)) {
    const [a, b] = item.split('-').map(Number) as [number, number | undefined];
    for (let cpu = a; cpu <= (b ?? a); cpu++) {
      while (bytes.length <= cpu >> 3) bytes.push(0);
      bytes[cpu >> 3]! |= 1 << (cpu & 7);
    }
  }
  if (bytes.length === 0) throw specError('must not be empty', { configPath });
  return Buffer.from(bytes);
}

/** CPUQuotaPerSecUSec (and CPUQuotaPeriodUSec) from a CFS quota and period, as runc's
 * addCPUQuota: systemd keeps the quota as a whole percentage of a CPU, so a quota that is not
 * a multiple of 10 ms per second is rounded up, and the rounded quota is what cgroupfs gets
 * too (returned), so that the two agree. */
function cpuQuota(props: Property[], quotaIn: bigint, period: bigint, version: number): bigint {
  let quota = quotaIn;
  if (period !== 0n && version >= 242) props.push(['CPUQuotaPeriodUSec', 't', period]);
  if (quota !== 0n || period !== 0n) {
    let perSec = INFINITY;
    if (quota > 0n) {
      const p = period === 0n ? DEFAULT_PERIOD : period;
      perSec = (quota * 1000000n) / p;
      if (perSec % 10000n !== 0n) {
        perSec = (perSec / 10000n + 1n) * 10000n;
        quota = (perSec * p) / 1000000n;
      }
    }
    props.push(['CPUQuotaPerSecUSec', 't', perSec]);
  }
  return quota;
}

const limitValue = (n: number): bigint => (n === -1 ? INFINITY : BigInt(i64(n)));

function unifiedNumber(key: string, value: string): bigint {
  if (value === 'max') return INFINITY;
  if (!/^\d+$/.test(value) || BigInt(value) > INFINITY) throw specError(`expected a number or "max", got ${JSON.stringify(value)}`, { configPath: at('unified', key) });
  return BigInt(value);
}

const UNIFIED_MEMORY: Record<string, string> = {
  'memory.high': 'MemoryHigh', 'memory.low': 'MemoryLow', 'memory.min': 'MemoryMin', 'memory.max': 'MemoryMax', 'memory.swap.max': 'MemorySwapMax',
};

/** linux.resources.unified entries systemd has a property for (runc's unifiedResToSystemdProps);
 * the others are only written to cgroupfs. */
function unifiedProperties(unified: Record<string, string>, version: number): Property[] {
  const props: Property[] = [];
  const idle = version >= 252 && unified['cpu.idle']?.trim() === '1';
  for (const key of Object.keys(unified).sort()) {
    const value = unified[key]!.trim();
    const path = at('unified', key);
    if (key === 'cpu.idle') {
      // CPUWeight=0 is how systemd spells cpu.idle=1 (systemd >= 252); 0 cannot be said.
      if (idle) props.push(['CPUWeight', 't', 0n]);
    } else if (key === 'cpu.max') {
      const f = value.split(/\s+/);
      if (f.length < 1 || f.length > 2 || (f[0] !== 'max' && !/^-?\d+$/.test(f[0]!)) || (f[1] !== undefined && !/^\d+$/.test(f[1]))) {
        throw specError(`expected "QUOTA [PERIOD]" or "max [PERIOD]", got ${JSON.stringify(value)}`, { configPath: path });
      }
      cpuQuota(props, f[0] === 'max' ? 0n : BigInt(f[0]!), f[1] === undefined ? DEFAULT_PERIOD : BigInt(f[1]), version);
    } else if (key === 'cpu.weight') {
      if (!idle) props.push(['CPUWeight', 't', unifiedNumber(key, value)]);
    } else if (key === 'cpuset.cpus' || key === 'cpuset.mems') {
      if (version >= 244) props.push([key === 'cpuset.cpus' ? 'AllowedCPUs' : 'AllowedMemoryNodes', 'ay', rangeToBits(value, path)]);
    } else if (UNIFIED_MEMORY[key]) {
      props.push([UNIFIED_MEMORY[key]!, 't', unifiedNumber(key, value)]);
    } else if (key === 'pids.max') {
      props.push(['TasksMax', 't', unifiedNumber(key, value)]);
    }
  }
  return props;
}

/** The unit properties for `resources` on systemd `version` (runc's genV2ResourcesProperties,
 * the IOWeight and MemorySwapMax=0 additions above), and the resources cgroupfs gets
 * afterwards (the CPU quota rounded as systemd keeps it). Pure. */
export function resourceProperties(r: Resources, version: number): { props: Property[]; resources: Resources } {
  const props: Property[] = [];
  const out: Resources = { ...r };
  const m = r.memory;
  if (m) {
    const limit = memLimit(m.limit ?? 0, at('memory', 'limit'));
    const swap = memLimit(m.swap ?? 0, at('memory', 'swap'));
    const reservation = memLimit(m.reservation ?? 0, at('memory', 'reservation'));
    if (limit !== 0) props.push(['MemoryMax', 't', limitValue(limit)]);
    if (reservation !== 0) props.push(['MemoryLow', 't', limitValue(reservation)]);
    const sw = swapForV2(swap, limit, 'linux.resources.memory');
    if (sw !== 0n || swap > 0) props.push(['MemorySwapMax', 't', sw === -1n ? INFINITY : sw]);
  }
  const c = r.cpu;
  if (c) {
    // cpu.idle=1 and a weight cannot both hold (the kernel refuses cpu.weight then).
    if (c.idle === 1 && version >= 252) props.push(['CPUWeight', 't', 0n]);
    else if (c.shares && !c.idle) props.push(['CPUWeight', 't', BigInt(cpuSharesToWeight(c.shares))]);
    const quota = c.quota ? BigInt(i64(c.quota)) : 0n;
    const rounded = cpuQuota(props, quota, c.period ? BigInt(c.period) : 0n, version);
    if (rounded !== quota) out.cpu = { ...c, quota: Number(rounded) };
  }
  if (r.pids !== undefined) {
    const limit = r.pids.limit;
    // 0 is a real limit for cgroupfs (pids.max=0) but systemd refuses TasksMax=0.
    if (limit < 0) props.push(['TasksMax', 't', INFINITY]);
    else if (limit > 0) props.push(['TasksMax', 't', BigInt(i64(limit))]);
  }
  if (version >= 244) {
    if (c?.cpus) props.push(['AllowedCPUs', 'ay', rangeToBits(c.cpus, at('cpu', 'cpus'))]);
    if (c?.mems) props.push(['AllowedMemoryNodes', 'ay', rangeToBits(c.mems, at('cpu', 'mems'))]);
  }
  const w = r.blockIO?.weight;
  if (w) props.push(['IOWeight', 't', BigInt(blkioToIoWeight(intIn(w, at('blockIO', 'weight'), 1, 1000)))]);
  if (r.unified) props.push(...unifiedProperties(r.unified, version));
  return { props, resources: out };
}

/** The properties every unit gets (runc's Apply), then those from `org.systemd.property.*`
 * annotations, then memory.oom.group as OOMPolicy. */
export function unitProperties(target: SystemdTarget, id: string, pid: number | undefined, spec: Spec): Property[] {
  const props: Property[] = [['Description', 's', `launch container ${id}`]];
  if (target.kind === 'slice') {
    // A slice's parent is implied by its name; Wants= only orders it after its parent.
    props.push(['Wants', 'as', [target.slice]]);
  } else {
    props.push(['Slice', 's', target.slice], ['Delegate', 'b', true]);
    if (pid !== undefined) props.push(['PIDs', 'au', [pid]]);
  }
  // Accounting on for every controller, as runc: the same controllers as the cgroupfs driver,
  // and the kernel charges memory correctly only from the start.
  props.push(['MemoryAccounting', 'b', true], ['CPUAccounting', 'b', true], ['IOAccounting', 'b', true], ['TasksAccounting', 'b', true]);
  // No implicit ordering against sysinit/shutdown targets: a container is not a boot service.
  props.push(['DefaultDependencies', 'b', false]);
  props.push(...annotationProperties(spec.annotations ?? {}));
  const oom = spec.linux?.resources?.unified?.['memory.oom.group']?.trim();
  if (oom === '0') props.push(['OOMPolicy', 's', 'continue']);
  else if (oom === '1') props.push(['OOMPolicy', 's', 'kill']);
  return props;
}
