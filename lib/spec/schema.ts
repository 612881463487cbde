// zod schema of the OCI runtime-spec config.json (v1.2, Linux), from config.md, config-linux.md
// and specs-go/config.go of opencontainers/runtime-spec.
//
// Every object is `.loose()`: a field this version does not know is kept, not dropped, so a
// config written for a later spec round-trips through launch unchanged. What the spec defines
// is checked strictly, because each value ends up in a syscall argument and a bad one is far
// easier to explain here (with its config path) than as an errno from the child.
//
// Messages are short, lower-case and carry the offending value; load.ts adds the config path.
import * as z from 'zod';

const MAX_U16 = 0xffff;
const MAX_U32 = 0xffffffff;
const MAX_I32 = 0x7fffffff;
// int64/uint64 arrive as JS doubles: 18446744073709551615 (RLIM_INFINITY) parses to 2**64, and
// anything past 2**53 is already rounded by JSON.parse, so the bounds are the rounded ones.
const MAX_U64 = 2 ** 64;
const MAX_I64 = 2 ** 63;

/** JSON.stringify of a string, with the characters it leaves raw that still break a line or
 * a terminal escaped too (U+2028, U+2029, DEL and the C1 controls). */
export function quote(s: string): string {
  return JSON.stringify(s).replace(/[\u007f-\u009f\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value for a one-line message: JSON-quoted (so newlines stay escaped), cut when long.
 * Written by hand, and only as far as is shown: JSON.stringify would overflow the stack on an
 * array nested 100 000 deep (and then so would String()), and copy a megabyte to show 60 bytes. */
export function showValue(v: unknown): string {
  const limit = 60;
  let s = '';
  const walk = (x: unknown): boolean => {
    if (s.length > limit) return false;
    if (Array.isArray(x)) {
      s += '[';
      for (let i = 0; i < x.length; i++) {
        if (i > 0) s += ',';
        if (!walk(x[i])) return false;
      }
      s += ']';
    } else if (x !== null && typeof x === 'object') {
      s += '{';
      let first = true;
      for (const k in x) {
        if (!Object.hasOwn(x, k)) continue;
        s += `${first ? '' : ','}${quote(k.slice(0, limit))}:`;
        first = false;
        if (!walk((x as Record<string, unknown>)[k])) return false;
      }
      s += '}';
    } else if (typeof x === 'string') s += quote(x.slice(0, limit + 1));
    else if (typeof x === 'number' && !Number.isFinite(x)) s += String(x);
    else s += JSON.stringify(x) ?? String(x);
    return s.length <= limit;
  };
  walk(v);
  return s.length > limit ? `${s.slice(0, limit - 3)}...` : s;
}

type Ctx = z.core.$RefinementCtx;
const fail = (ctx: Ctx, message: string, path?: PropertyKey[]) =>
  ctx.addIssue(path ? { code: 'custom', message, path } : { code: 'custom', message });

function integer(min: number, max: number) {
  return z.number().superRefine((v, ctx) => {
    if (!Number.isInteger(v)) fail(ctx, `expected an integer, got ${v}`);
    else if (v < min || v > max) {
      const hi = max === MAX_U64 ? '18446744073709551615' : max === MAX_I64 ? '9223372036854775807' : String(max);
      const lo = min === -MAX_I64 ? '-9223372036854775808' : String(min);
      fail(ctx, `must be from ${lo} to ${hi}, got ${v}`);
    }
  });
}
const uint16 = integer(0, MAX_U16);
const uint32 = integer(0, MAX_U32);
const int32 = integer(-MAX_I32 - 1, MAX_I32);
const uint64 = integer(0, MAX_U64);
const int64 = integer(-MAX_I64, MAX_I64);

// Strings that become C strings in the plan: an embedded NUL would silently truncate them.
function noNul(v: string, ctx: Ctx): boolean {
  if (!v.includes('\0')) return true;
  fail(ctx, `must not contain a NUL byte, got ${showValue(v)}`);
  return false;
}
const cstr = z.string().superRefine((v, ctx) => void noNul(v, ctx));
const nonEmpty = z.string().superRefine((v, ctx) => {
  if (noNul(v, ctx) && v === '') fail(ctx, 'must not be empty');
});
const absPath = z.string().superRefine((v, ctx) => {
  if (noNul(v, ctx) && !v.startsWith('/')) fail(ctx, `must be an absolute path, got ${showValue(v)}`);
});
function matching(re: RegExp, what: string) {
  return z.string().superRefine((v, ctx) => {
    if (!re.test(v)) fail(ctx, `expected ${what}, got ${showValue(v)}`);
  });
}
const stringMap = z.record(z.string(), z.string());
// Every object is loose (see top); `fields` is for objects whose members are all optional.
const obj = <S extends z.ZodRawShape>(shape: S) => z.object(shape).loose();
const fields = <S extends z.ZodRawShape>(shape: S) => z.object(shape).partial().loose();
const cpuList = matching(/^[0-9, -]*$/, 'a cpu list like "0-3,7"');

// ---- process ---------------------------------------------------------------------------------

const envEntry = z.string().superRefine((v, ctx) => {
  if (!noNul(v, ctx)) return;
  const eq = v.indexOf('=');
  if (eq < 0) fail(ctx, `expected NAME=value, got ${showValue(v)}`);
  else if (eq === 0) fail(ctx, `variable name must not be empty, got ${showValue(v)}`);
});

export const UserSchema = obj({
  uid: uint32,
  gid: uint32,
  umask: integer(0, 0o777).optional(),
  additionalGids: z.array(uint32).optional(),
  username: z.string().optional(),
});

const capability = matching(/^CAP_[A-Z_]+$/, 'a capability name like "CAP_KILL"');
const capSet = z.array(capability);
export const CapabilitiesSchema = fields({
  bounding: capSet, effective: capSet, inheritable: capSet, permitted: capSet, ambient: capSet,
});

// getrlimit(2): the runtime must reject types it cannot map to a kernel resource.
export const RLIMIT_TYPES = [
  'RLIMIT_AS', 'RLIMIT_CORE', 'RLIMIT_CPU', 'RLIMIT_DATA', 'RLIMIT_FSIZE', 'RLIMIT_LOCKS',
  'RLIMIT_MEMLOCK', 'RLIMIT_MSGQUEUE', 'RLIMIT_NICE', 'RLIMIT_NOFILE', 'RLIMIT_NPROC', 'RLIMIT_RSS',
  'RLIMIT_RTPRIO', 'RLIMIT_RTTIME', 'RLIMIT_SIGPENDING', 'RLIMIT_STACK',
] as const;
export const RlimitSchema = obj({ type: z.enum(RLIMIT_TYPES), hard: uint64, soft: uint64 }).superRefine((r, ctx) => {
  if (r.soft > r.hard) fail(ctx, `soft limit ${r.soft} is above hard limit ${r.hard}`, ['soft']);
});
const rlimits = z.array(RlimitSchema).superRefine((list, ctx) => {
  const seen = new Map<string, number>();
  list.forEach((r, i) => {
    const first = seen.get(r.type);
    if (first !== undefined) fail(ctx, `duplicate rlimit ${r.type} (first at rlimits[${first}])`, [i, 'type']);
    else seen.set(r.type, i);
  });
});

export const SCHEDULER_POLICIES = [
  'SCHED_OTHER', 'SCHED_FIFO', 'SCHED_RR', 'SCHED_BATCH', 'SCHED_ISO', 'SCHED_IDLE', 'SCHED_DEADLINE',
] as const;
export const SCHEDULER_FLAGS = [
  'SCHED_FLAG_RESET_ON_FORK', 'SCHED_FLAG_RECLAIM', 'SCHED_FLAG_DL_OVERRUN', 'SCHED_FLAG_KEEP_POLICY',
  'SCHED_FLAG_KEEP_PARAMS', 'SCHED_FLAG_UTIL_CLAMP_MIN', 'SCHED_FLAG_UTIL_CLAMP_MAX',
] as const;
const scheduler = obj({
  policy: z.enum(SCHEDULER_POLICIES),
  ...fields({ nice: int32, priority: int32, flags: z.array(z.enum(SCHEDULER_FLAGS)), runtime: uint64, deadline: uint64, period: uint64 }).shape,
});

export const ProcessSchema = obj({
  terminal: z.boolean().optional(),
  // struct winsize holds unsigned shorts: a larger size cannot be set.
  consoleSize: obj({ height: uint16, width: uint16 }).optional(),
  user: UserSchema.optional(),
  args: z.array(cstr).min(1).superRefine((a, ctx) => {
    if (a[0] === '') fail(ctx, 'the program name must not be empty', [0]);
  }),
  commandLine: z.string().optional(),
  env: z.array(envEntry).optional(),
  cwd: absPath,
  capabilities: CapabilitiesSchema.optional(),
  rlimits: rlimits.optional(),
  noNewPrivileges: z.boolean().optional(),
  // Written to /proc/thread-self/attr/... by the child (plan/lsm.ts): C strings.
  apparmorProfile: cstr.optional(),
  oomScoreAdj: integer(-1000, 1000).optional(),
  scheduler: scheduler.optional(),
  selinuxLabel: cstr.optional(),
  // ioprio_set(2) takes levels 0 (highest) to 7 and fails with EINVAL otherwise.
  ioPriority: obj({ class: z.enum(['IOPRIO_CLASS_RT', 'IOPRIO_CLASS_BE', 'IOPRIO_CLASS_IDLE']), priority: integer(0, 7) }).optional(),
  execCPUAffinity: fields({ initial: cpuList, final: cpuList }).optional(),
});

// ---- root, mounts, hooks ---------------------------------------------------------------------

export const IdMappingSchema = obj({ containerID: uint32, hostID: uint32, size: integer(1, MAX_U32) });

// The kernel refuses a uid_map/gid_map whose ranges wrap past 2^32-1 or overlap (on either
// side), and takes at most 340 lines (user_namespaces(7)); say so before writing the map.
const idMappings = z.array(IdMappingSchema).superRefine((list, ctx) => {
  // Return at once: the overlap check below is quadratic, and 50 000 entries would take minutes.
  if (list.length > 340) return fail(ctx, `at most 340 mappings are allowed, got ${list.length}`);
  list.forEach((m, i) => {
    for (const side of ['containerID', 'hostID'] as const) {
      if (m[side] + m.size - 1 > MAX_U32) {
        fail(ctx, `${side} ${m[side]} + size ${m.size} goes past 4294967295`, [i, 'size']);
        return;
      }
    }
    for (let j = 0; j < i; j++) {
      const o = list[j]!;
      for (const side of ['containerID', 'hostID'] as const) {
        if (m[side] < o[side] + o.size && o[side] < m[side] + m.size) {
          fail(ctx, `${side} range overlaps mapping [${j}]`, [i, side]);
          return;
        }
      }
    }
  });
});

export const RootSchema = obj({ path: nonEmpty, readonly: z.boolean().optional() });

export const MountSchema = obj({
  destination: absPath,
  source: cstr.optional(),
  options: z.array(cstr).optional(),
  type: cstr.optional(),
  uidMappings: idMappings.optional(),
  gidMappings: idMappings.optional(),
});

export const HookSchema = obj({
  path: absPath,
  args: z.array(cstr).optional(),
  env: z.array(envEntry).optional(),
  timeout: integer(1, MAX_I32).optional(),
});
const hookList = z.array(HookSchema);
export const HooksSchema = fields({
  prestart: hookList, createRuntime: hookList, createContainer: hookList,
  startContainer: hookList, poststart: hookList, poststop: hookList,
});

// ---- linux -----------------------------------------------------------------------------------

export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export const NamespaceSchema = obj({ type: z.enum(NAMESPACE_TYPES), path: absPath.optional() });
const namespaces = z.array(NamespaceSchema).superRefine((list, ctx) => {
  const seen = new Map<string, number>();
  list.forEach((ns, i) => {
    const first = seen.get(ns.type);
    if (first !== undefined) fail(ctx, `duplicate namespace type "${ns.type}" (first at namespaces[${first}])`, [i, 'type']);
    else seen.set(ns.type, i);
  });
});

export const DeviceSchema = obj({
  type: z.enum(['c', 'b', 'u', 'p']),
  path: absPath,
  major: int64.optional(),
  minor: int64.optional(),
  fileMode: uint32.optional(),
  uid: uint32.optional(),
  gid: uint32.optional(),
}).superRefine((d, ctx) => {
    // mknod(2) needs a device number for everything but a fifo.
    if (d.type === 'p') return;
    if (d.major === undefined) fail(ctx, `required for a device of type "${d.type}"`, ['major']);
    else if (d.minor === undefined) fail(ctx, `required for a device of type "${d.type}"`, ['minor']);
  });

const blockDevice = { major: int64, minor: int64 };
const throttle = z.array(obj({ ...blockDevice, rate: uint64 }));
export const ResourcesSchema = fields({
  devices: z.array(
    obj({
      allow: z.boolean(),
      type: z.enum(['a', 'b', 'c']).optional(),
      major: int64.optional(),
      minor: int64.optional(),
      access: matching(/^[rwm]{0,3}$/, 'a combination of "r", "w" and "m"').optional(),
    }),
  ),
  memory: fields({
    limit: int64, reservation: int64, swap: int64, kernel: int64, kernelTCP: int64,
    swappiness: integer(0, 100),
    disableOOMKiller: z.boolean(), useHierarchy: z.boolean(), checkBeforeUpdate: z.boolean(),
  }),
  cpu: fields({
    shares: uint64, quota: int64, burst: uint64, period: uint64, realtimeRuntime: int64, realtimePeriod: uint64,
    cpus: cpuList, mems: cpuList, idle: int64,
  }),
  pids: obj({ limit: int64 }),
  blockIO: fields({
    weight: uint16,
    leafWeight: uint16,
    weightDevice: z.array(obj({ ...blockDevice, weight: uint16.optional(), leafWeight: uint16.optional() })),
    throttleReadBpsDevice: throttle,
    throttleWriteBpsDevice: throttle,
    throttleReadIOPSDevice: throttle,
    throttleWriteIOPSDevice: throttle,
  }),
  hugepageLimits: z.array(obj({ pageSize: matching(/^[0-9]+[KMGT]B$/, 'a page size like "2MB"'), limit: uint64 })),
  network: fields({ classID: uint32, priorities: z.array(obj({ name: z.string(), priority: uint32 })) }),
  rdma: z.record(z.string(), fields({ hcaHandles: uint32, hcaObjects: uint32 })),
  unified: stringMap,
});

export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
] as const;
export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
] as const;
export const SeccompSchema = obj({
  defaultAction: z.enum(SECCOMP_ACTIONS),
  defaultErrnoRet: uint32.optional(),
  // Open-ended prefixes rather than lists: libseccomp gains architectures and the kernel
  // gains filter flags faster than the spec's enumerations are updated.
  architectures: z.array(matching(/^SCMP_ARCH_[A-Z0-9_]+$/, 'an architecture like "SCMP_ARCH_X86_64"')).optional(),
  flags: z.array(matching(/^SECCOMP_FILTER_FLAG_[A-Z_]+$/, 'a flag like "SECCOMP_FILTER_FLAG_LOG"')).optional(),
  listenerPath: absPath.optional(),
  listenerMetadata: z.string().optional(),
  syscalls: z
    .array(
      obj({
        names: z.array(nonEmpty).min(1),
        action: z.enum(SECCOMP_ACTIONS),
        errnoRet: uint32.optional(),
        // A syscall has six argument registers: libseccomp rejects any other index.
        args: z
          .array(obj({ index: integer(0, 5), value: uint64, valueTwo: uint64.optional(), op: z.enum(SECCOMP_OPERATORS) }))
          .optional(),
      }),
    )
    .optional(),
}).superRefine((s, ctx) => {
  if (s.listenerPath !== undefined) return;
  const msg = 'action SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath';
  const i = s.syscalls?.findIndex((c) => c.action === 'SCMP_ACT_NOTIFY') ?? -1;
  if (s.defaultAction === 'SCMP_ACT_NOTIFY') fail(ctx, msg, ['defaultAction']);
  else if (i >= 0) fail(ctx, msg, ['syscalls', i, 'action']);
});

export const MEMORY_POLICY_MODES = [
  'MPOL_DEFAULT', 'MPOL_BIND', 'MPOL_INTERLEAVE', 'MPOL_WEIGHTED_INTERLEAVE', 'MPOL_PREFERRED',
  'MPOL_PREFERRED_MANY', 'MPOL_LOCAL',
] as const;
export const MEMORY_POLICY_FLAGS = ['MPOL_F_NUMA_BALANCING', 'MPOL_F_RELATIVE_NODES', 'MPOL_F_STATIC_NODES'] as const;

// time_namespaces(7): only these two clocks can be offset.
const timeOffsets = z
  .record(z.string(), fields({ secs: int64, nanosecs: integer(0, 999_999_999) }))
  .superRefine((rec, ctx) => {
    for (const k of Object.keys(rec)) {
      if (k !== 'boottime' && k !== 'monotonic') fail(ctx, `unknown clock ${showValue(k)}, expected "boottime" or "monotonic"`, [k]);
    }
  });

// A network interface name is at most IFNAMSIZ-1 bytes and cannot contain '/', ':' or spaces.
const IFNAME = /^[^/:\s]{1,15}$/;
const netDevices = z
  .record(z.string(), fields({ name: matching(IFNAME, 'an interface name of 1 to 15 characters') }))
  .superRefine((rec, ctx) => {
    for (const k of Object.keys(rec)) {
      if (!IFNAME.test(k)) fail(ctx, `expected an interface name of 1 to 15 characters, got ${showValue(k)}`, [k]);
    }
  });

// Each entry becomes a write of the value to /proc/sys/<name with dots as slashes>: both are C
// strings in the plan, and the name must stay below /proc/sys (the plan builder's rule).
export const isSysctlName = (k: string): boolean => /^[A-Za-z0-9_.\-/]+$/.test(k) && !k.includes('..');
const sysctl = z.record(z.string(), cstr).superRefine((rec, ctx) => {
  for (const k of Object.keys(rec)) {
    if (!isSysctlName(k)) {
      fail(ctx, `expected a sysctl name like "net.ipv4.ip_forward", got ${showValue(k)}`, [k]);
    }
  }
});

export const LinuxSchema = fields({
  uidMappings: idMappings,
  gidMappings: idMappings,
  sysctl,
  resources: ResourcesSchema,
  cgroupsPath: cstr,
  namespaces,
  devices: z.array(DeviceSchema),
  seccomp: SeccompSchema,
  // runc also takes the recursive spellings, and configs in the wild use them.
  rootfsPropagation: z.enum(['private', 'shared', 'slave', 'unbindable', 'rprivate', 'rshared', 'rslave', 'runbindable']),
  maskedPaths: z.array(absPath),
  readonlyPaths: z.array(absPath),
  mountLabel: cstr,
  intelRdt: fields({
    closID: matching(/^(?!\.\.?$)[^/\n]+$/, 'a resctrl group name'),
    // A string in specs-go up to 1.2, a list of lines in later drafts: take both.
    schemata: z.union([z.string(), z.array(z.string())]),
    l3CacheSchema: z.string(),
    memBwSchema: z.string(),
    enableCMT: z.boolean(),
    enableMBM: z.boolean(),
  }),
  personality: obj({ domain: z.enum(['LINUX', 'LINUX32']), flags: z.array(z.string()).optional() }),
  timeOffsets,
  memoryPolicy: obj({
    mode: z.enum(MEMORY_POLICY_MODES),
    nodes: matching(/^[0-9,-]*$/, 'a node list like "0-3,7"').optional(),
    flags: z.array(z.enum(MEMORY_POLICY_FLAGS)).optional(),
  }),
  netDevices,
});

// ---- the whole config ------------------------------------------------------------------------

const SEMVER = /^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/;
const ociVersion = z.string().superRefine((v, ctx) => {
  const m = SEMVER.exec(v);
  if (!m) fail(ctx, `expected a version like "1.2.0", got ${showValue(v)}`);
  // Minor versions are compatible by the spec's own rule; a new major version is not.
  else if (m[1] !== '1') fail(ctx, `unsupported version ${showValue(v)}, expected 1.x`);
});
// HOST_NAME_MAX: sethostname(2)/setdomainname(2) fail with EINVAL beyond 64 bytes.
const utsName = z.string().superRefine((v, ctx) => {
  if (noNul(v, ctx) && Buffer.byteLength(v) > 64) fail(ctx, `must be at most 64 bytes, got ${Buffer.byteLength(v)}`);
});

export const SpecSchema = obj({
  ociVersion,
  process: ProcessSchema.optional(),
  root: RootSchema,
  hostname: utsName.optional(),
  domainname: utsName.optional(),
  mounts: z.array(MountSchema).optional(),
  hooks: HooksSchema.optional(),
  annotations: stringMap.optional(),
  linux: LinuxSchema.optional(),
});

export type Spec = z.infer<typeof SpecSchema>;
export type Process = z.infer<typeof ProcessSchema>;
export type User = z.infer<typeof UserSchema>;
export type Capabilities = z.infer<typeof CapabilitiesSchema>;
export type Rlimit = z.infer<typeof RlimitSchema>;
export type Root = z.infer<typeof RootSchema>;
export type Mount = z.infer<typeof MountSchema>;
export type Hook = z.infer<typeof HookSchema>;
export type Hooks = z.infer<typeof HooksSchema>;
export type IdMapping = z.infer<typeof IdMappingSchema>;
export type Namespace = z.infer<typeof NamespaceSchema>;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];
export type Device = z.infer<typeof DeviceSchema>;
export type Resources = z.infer<typeof ResourcesSchema>;
export type Seccomp = z.infer<typeof SeccompSchema>;
export type Linux = z.infer<typeof LinuxSchema>;
