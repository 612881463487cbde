import { thrown } from '../helpers/thrown.js';
import { describe, it, expect, vi, afterEach } from 'vitest';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants as os, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LaunchError, formatError } from '../../lib/errors.js';
import { loadSpec, parseSpec, formatConfigPath } from '../../lib/spec/load.js';
import { SpecSchema, type Spec } from '../../lib/spec/schema.js';
import { DEFAULT_CAPS, defaultSpec, demoSpec, OCI_VERSION, SECCOMP_KERNEL } from '../../lib/spec/generate.js';
import { defaultSeccomp } from '../../lib/spec/seccomp-default.js';

const fixtures = fileURLToPath(new URL('../fixtures/', import.meta.url));
const fixtureText = (name: string) => readFileSync(join(fixtures, name), 'utf8');
const runcSpec = () => JSON.parse(fixtureText('runc-spec.json'));
const runcRootless = () => JSON.parse(fixtureText('runc-spec-rootless.json'));

// Every field of the v1.2 config, with values a runtime could actually apply.
const FULL = {
  ociVersion: '1.2.0',
  process: {
    terminal: true,
    consoleSize: { height: 25, width: 80 },
    user: { uid: 1, gid: 1, umask: 0o22, additionalGids: [5, 6], username: 'daemon' },
    args: ['/bin/sh', '-c', 'echo hi'],
    commandLine: 'sh -c "echo hi"',
    env: ['PATH=/usr/bin:/bin', 'EMPTY='],
    cwd: '/srv',
    capabilities: {
      bounding: ['CAP_KILL'], effective: ['CAP_KILL'], inheritable: [], permitted: ['CAP_KILL'], ambient: [],
    },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 512 }, { type: 'RLIMIT_CORE', hard: 18446744073709551615, soft: 0 }],
    noNewPrivileges: true,
    apparmorProfile: 'launch-default',
    oomScoreAdj: -500,
    scheduler: { policy: 'SCHED_DEADLINE', nice: -5, priority: 0, flags: ['SCHED_FLAG_RESET_ON_FORK'], runtime: 10000000, deadline: 20000000, period: 30000000 },
    selinuxLabel: 'system_u:system_r:container_t:s0',
    ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
    execCPUAffinity: { initial: '0-3,7', final: '1' },
  },
  root: { path: '/var/lib/launch/rootfs', readonly: true },
  hostname: 'web',
  domainname: 'example.org',
  mounts: [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/data', type: 'bind', source: '/srv/data', options: ['rbind', 'idmap'],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }], gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
    },
  ],
  hooks: Object.fromEntries(
    ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'].map((h) => [
      h, [{ path: '/usr/bin/hook', args: ['hook', h], env: ['A=b'], timeout: 5 }],
    ]),
  ),
  annotations: { 'org.example.key': 'value' },
  linux: {
    namespaces: [
      { type: 'pid' }, { type: 'network', path: '/run/netns/x' }, { type: 'mount' }, { type: 'ipc' },
      { type: 'uts' }, { type: 'user' }, { type: 'cgroup' }, { type: 'time' },
    ],
    uidMappings: [{ containerID: 0, hostID: 1000, size: 1 }, { containerID: 1, hostID: 100000, size: 65536 }],
    gidMappings: [{ containerID: 0, hostID: 1000, size: 1 }],
    timeOffsets: { monotonic: { secs: 3600, nanosecs: 5 }, boottime: { secs: -60 } },
    devices: [
      { path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 },
      { path: '/dev/fifo', type: 'p' },
    ],
    cgroupsPath: '/launch/web',
    rootfsPropagation: 'rslave',
    maskedPaths: ['/proc/kcore'],
    readonlyPaths: ['/proc/sys'],
    mountLabel: 'system_u:object_r:container_file_t:s0',
    sysctl: { 'net.ipv4.ip_forward': '1' },
    resources: {
      devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' }],
      memory: { limit: 536870912, reservation: 268435456, swap: -1, kernel: -1, kernelTCP: -1, swappiness: 0, disableOOMKiller: false, useHierarchy: true, checkBeforeUpdate: true },
      cpu: { shares: 1024, quota: 100000, burst: 1000, period: 100000, realtimeRuntime: 0, realtimePeriod: 0, cpus: '0-3', mems: '0', idle: 0 },
      blockIO: {
        weight: 500, leafWeight: 300,
        weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 300 }],
        throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 1048576 }],
        throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
        throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 100 }],
      },
      hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
      network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
      pids: { limit: 32771 },
      rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
      unified: { 'memory.high': '1G' },
    },
    intelRdt: { closID: 'guaranteed', l3CacheSchema: 'L3:0=7f0', memBwSchema: 'MB:0=20', schemata: ['L2:0=ff'], enableCMT: true, enableMBM: true },
    personality: { domain: 'LINUX', flags: [] },
    seccomp: {
      defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1,
      architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_RISCV64'],
      flags: ['SECCOMP_FILTER_FLAG_LOG'],
      listenerPath: '/run/seccomp.sock', listenerMetadata: 'meta',
      syscalls: [
        { names: ['getcwd', 'chmod'], action: 'SCMP_ACT_ALLOW' },
        { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 4294967295, op: 'SCMP_CMP_EQ' }] },
        { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['mount'], action: 'SCMP_ACT_NOTIFY' },
      ],
    },
    memoryPolicy: { mode: 'MPOL_INTERLEAVE', nodes: '0-3,7', flags: ['MPOL_F_STATIC_NODES'] },
    netDevices: { eth1: { name: 'net0' }, dummy0: {} },
  },
};

type Doc = Record<string, any>;
const clone = <T>(v: T): T => structuredClone(v);

const rejectWith = (doc: unknown) => thrown(() => parseSpec(doc, '/b/config.json'));

describe('SpecSchema accepts', () => {
  it('runc spec output', () => {
    expect(parseSpec(runcSpec(), 'config.json')).toEqual(runcSpec());
  });
  it('runc spec --rootless output', () => {
    expect(parseSpec(runcRootless(), 'config.json')).toEqual(runcRootless());
  });
  it('a config using every field', () => {
    expect(parseSpec(clone(FULL), 'config.json')).toEqual(FULL);
  });
  it('a minimal config', () => {
    expect(parseSpec({ ociVersion: '1.0.0', root: { path: 'rootfs' } }, 'c')).toEqual({ ociVersion: '1.0.0', root: { path: 'rootfs' } });
  });
  it('keeps unknown fields at every level', () => {
    const doc: Doc = clone(FULL);
    doc.vendorExtension = { a: [1, 2] };
    doc.process.futureKnob = true;
    doc.process.user.sid = 'x';
    doc.mounts[1].uidMappings[0].note = 'n';
    doc.linux.namespaces[0].flags = ['f'];
    doc.linux.resources.memory.future = 1;
    doc.linux.seccomp.syscalls[1].args[0].comment = 'c';
    doc.hooks.poststop[0].retries = 3;
    doc.process.scheduler.future = 'x';
    doc.linux.resources.pids.future = 'x';
    doc.linux.intelRdt.enableMonitoring = true;
    doc.windows = { layerFolders: [] };
    const out = parseSpec(clone(doc), 'c') as Doc;
    expect(out).toEqual(doc);
    expect(out.linux.seccomp.syscalls[1].args[0].comment).toBe('c');
  });
});

// [description, mutation of a valid doc (or, taking no argument, a whole replacement document),
//  exact config path, message (exact string or pattern)]
const BAD: [string, (d: Doc) => unknown, string | undefined, string | RegExp][] = [
  ['negative uid', (d) => (d.process.user.uid = -1), 'process.user.uid', 'must be from 0 to 4294967295, got -1'],
  ['uid past uint32', (d) => (d.process.user.gid = 2 ** 32), 'process.user.gid', 'must be from 0 to 4294967295, got 4294967296'],
  ['fractional uid', (d) => (d.process.user.uid = 1.5), 'process.user.uid', 'expected an integer, got 1.5'],
  ['string where a number goes', (d) => (d.linux.uidMappings[0].size = '1'), 'linux.uidMappings[0].size', 'expected a number, got string'],
  ['size 0 mapping', (d) => (d.linux.uidMappings[0].size = 0), 'linux.uidMappings[0].size', 'must be from 1 to 4294967295, got 0'],
  ['mapping wraps past 2^32', (d) => (d.linux.gidMappings[0] = { containerID: 4294967295, hostID: 0, size: 2 }), 'linux.gidMappings[0].size', /goes past 4294967295/],
  ['overlapping mappings', (d) => d.linux.uidMappings.push({ containerID: 0, hostID: 5000, size: 1 }), 'linux.uidMappings[1].containerID', 'containerID range overlaps mapping [0]'],
  ['unknown namespace type', (d) => (d.linux.namespaces[1].type = 'net'), 'linux.namespaces[1].type', /^expected one of "pid", "network", .*, got "net"$/],
  ['duplicate namespace type', (d) => d.linux.namespaces.push({ type: 'ipc' }), 'linux.namespaces[5].type', 'duplicate namespace type "ipc" (first at namespaces[2])'],
  ['relative namespace path', (d) => (d.linux.namespaces[0].path = 'proc/1/ns/pid'), 'linux.namespaces[0].path', 'must be an absolute path, got "proc/1/ns/pid"'],
  ['relative mount destination', (d) => (d.mounts[2].destination = 'dev/pts'), 'mounts[2].destination', 'must be an absolute path, got "dev/pts"'],
  ['mount without destination', (d) => delete d.mounts[0].destination, 'mounts[0].destination', 'required field is missing (expected a string)'],
  ['rlimit soft above hard', (d) => (d.process.rlimits[0].soft = 2048), 'process.rlimits[0].soft', 'soft limit 2048 is above hard limit 1024'],
  ['unknown rlimit', (d) => (d.process.rlimits[0].type = 'RLIMIT_FOO'), 'process.rlimits[0].type', /^expected one of "RLIMIT_AS", .*, got "RLIMIT_FOO"$/],
  ['duplicate rlimit', (d) => d.process.rlimits.push({ type: 'RLIMIT_NOFILE', hard: 1, soft: 1 }), 'process.rlimits[1].type', 'duplicate rlimit RLIMIT_NOFILE (first at rlimits[0])'],
  ['empty args', (d) => (d.process.args = []), 'process.args', 'must not be empty'],
  ['missing args', (d) => delete d.process.args, 'process.args', 'required field is missing (expected an array)'],
  ['args as a string', (d) => (d.process.args = 'sh'), 'process.args', 'expected an array, got string'],
  ['empty program name', (d) => (d.process.args = ['']), 'process.args[0]', 'the program name must not be empty'],
  ['NUL in an argument', (d) => (d.process.args = ['sh', 'a\0b']), 'process.args[1]', 'must not contain a NUL byte, got "a\\u0000b"'],
  ['umask above 0777', (d) => (d.process.user.umask = 0o1000), 'process.user.umask', 'must be from 0 to 511, got 512'],
  ['relative cwd', (d) => (d.process.cwd = 'srv'), 'process.cwd', 'must be an absolute path, got "srv"'],
  ['env entry without =', (d) => d.process.env.push('JUSTNAME'), 'process.env[2]', 'expected NAME=value, got "JUSTNAME"'],
  ['lower-case capability', (d) => (d.process.capabilities.bounding[1] = 'kill'), 'process.capabilities.bounding[1]', 'expected a capability name like "CAP_KILL", got "kill"'],
  ['oomScoreAdj out of range', (d) => (d.process.oomScoreAdj = 1001), 'process.oomScoreAdj', 'must be from -1000 to 1000, got 1001'],
  ['missing ociVersion', (d) => delete d.ociVersion, 'ociVersion', 'required field is missing (expected a string)'],
  ['future major version', (d) => (d.ociVersion = '2.0.0'), 'ociVersion', 'unsupported version "2.0.0", expected 1.x'],
  ['missing root', (d) => delete d.root, 'root', 'required field is missing (expected an object)'],
  ['hostname too long', (d) => (d.hostname = 'h'.repeat(65)), 'hostname', 'must be at most 64 bytes, got 65'],
  ['relative hook path', (d) => (d.hooks = { poststop: [{ path: 'bin/x' }] }), 'hooks.poststop[0].path', 'must be an absolute path, got "bin/x"'],
  ['hook timeout 0', (d) => (d.hooks = { prestart: [{ path: '/x', timeout: 0 }] }), 'hooks.prestart[0].timeout', 'must be from 1 to 2147483647, got 0'],
  ['sysctl value not a string', (d) => (d.linux.sysctl = { 'net.ipv4.ip_forward': 1 }), 'linux.sysctl["net.ipv4.ip_forward"]', 'expected a string, got number'],
  ['device of unknown type', (d) => (d.linux.devices = [{ path: '/dev/x', type: 'x', major: 1, minor: 1 }]), 'linux.devices[0].type', 'expected one of "c", "b", "u", "p", got "x"'],
  ['char device without major', (d) => (d.linux.devices = [{ path: '/dev/x', type: 'c', minor: 1 }]), 'linux.devices[0].major', 'required for a device of type "c"'],
  ['swappiness above 100', (d) => (d.linux.resources.memory = { swappiness: 101 }), 'linux.resources.memory.swappiness', 'must be from 0 to 100, got 101'],
  ['device rule access', (d) => (d.linux.resources.devices[0].access = 'rwx'), 'linux.resources.devices[0].access', 'expected a combination of "r", "w" and "m", got "rwx"'],
  ['seccomp arg index 6', (d) => (d.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['x'], action: 'SCMP_ACT_ERRNO', args: [{ index: 6, value: 0, op: 'SCMP_CMP_EQ' }] }] }), 'linux.seccomp.syscalls[0].args[0].index', 'must be from 0 to 5, got 6'],
  ['seccomp notify without listener', (d) => (d.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_NOTIFY' }] }), 'linux.seccomp.syscalls[0].action', 'action SCMP_ACT_NOTIFY needs linux.seccomp.listenerPath'],
  ['unknown time namespace clock', (d) => (d.linux.timeOffsets = { realtime: { secs: 1 } }), 'linux.timeOffsets.realtime', 'unknown clock "realtime", expected "boottime" or "monotonic"'],
  ['relative masked path', (d) => (d.linux.maskedPaths[0] = 'proc/kcore'), 'linux.maskedPaths[0]', 'must be an absolute path, got "proc/kcore"'],
  ['intelRdt schemata of the wrong type', (d) => (d.linux.intelRdt = { schemata: 7 }), 'linux.intelRdt.schemata', 'expected a string or an array, got number'],
  ['namespace without a type', (d) => (d.linux.namespaces[0] = { path: '/proc/1/ns/pid' }), 'linux.namespaces[0].type', /^required field is missing \(expected one of "pid", .*"time"\)$/],
  ['scheduler without a policy', (d) => (d.process.scheduler = { nice: 1 }), 'process.scheduler.policy', /^required field is missing \(expected one of "SCHED_OTHER", /],
  ['console size past a winsize', (d) => (d.process.consoleSize = { height: 70000, width: 80 }), 'process.consoleSize.height', 'must be from 0 to 65535, got 70000'],
  ['ioPriority level 8', (d) => (d.process.ioPriority = { class: 'IOPRIO_CLASS_BE', priority: 8 }), 'process.ioPriority.priority', 'must be from 0 to 7, got 8'],
  ['bad interface name', (d) => (d.linux.netDevices = { 'eth0/x': {} }), 'linux.netDevices["eth0/x"]', 'expected an interface name of 1 to 15 characters, got "eth0/x"'],
  ['memory policy mode', (d) => (d.linux.memoryPolicy = { mode: 'MPOL_FOO' }), 'linux.memoryPolicy.mode', /^expected one of "MPOL_DEFAULT", .*, got "MPOL_FOO"$/],
  ['not an object at all', () => [], undefined, 'expected an object, got array'],
];

describe('SpecSchema rejects', () => {
  it.each(BAD)('%s', (_name, mutate, configPath, message) => {
    const doc: Doc = runcSpec();
    doc.linux.uidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    doc.linux.gidMappings = [{ containerID: 0, hostID: 1000, size: 1 }];
    const err = rejectWith(mutate.length === 0 ? mutate({}) : (mutate(doc), doc));
    expect(err.kind).toBe('spec');
    expect(err.code).toBe('SPEC_INVALID');
    expect(err.configPath).toBe(configPath);
    expect(err.file).toBe('/b/config.json');
    if (typeof message === 'string') expect(err.message).toBe(message);
    else expect(err.message).toMatch(message);
    expect(err.message).not.toMatch(/\n|\.$|^[A-Z]/);
    expect(formatError(err).split('\n')).toHaveLength(1);
  });

  it('reports the first problem when there are several', () => {
    const doc: Doc = runcSpec();
    doc.process.user.uid = 'root';
    doc.mounts[0].destination = 'proc';
    expect(rejectWith(doc).configPath).toBe('process.user.uid');
  });

  it('formats the whole line', () => {
    const doc: Doc = runcRootless();
    doc.linux.uidMappings[0].size = '1';
    const err = rejectWith(doc);
    err.context = 'run web';
    expect(formatError(err)).toBe('launch: run web: linux.uidMappings[0].size: expected a number, got string `/b/config.json`');
  });
});

describe('formatConfigPath', () => {
  it('writes dotted and indexed paths, quoting keys that are not identifiers', () => {
    expect(formatConfigPath(['linux', 'uidMappings', 0, 'size'])).toBe('linux.uidMappings[0].size');
    expect(formatConfigPath(['annotations', 'org.example/key'])).toBe('annotations["org.example/key"]');
    expect(formatConfigPath([])).toBe('');
  });
});

describe('loadSpec', () => {
  const dirs: string[] = [];
  const bundle = (config?: string): string => {
    const dir = mkdtempSync(join(tmpdir(), 'launch-spec-'));
    dirs.push(dir);
    if (config !== undefined) writeFileSync(join(dir, 'config.json'), config);
    return dir;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });

  it('loads and validates config.json', () => {
    expect(loadSpec(bundle(fixtureText('runc-spec.json')))).toEqual(runcSpec());
  });

  it('names the file and errno when config.json is missing', () => {
    const dir = bundle();
    const err = thrown(() => loadSpec(dir));
    expect(err.kind).toBe('spec');
    expect(err.file).toBe(join(dir, 'config.json'));
    expect(err.errno).toBe(os.errno.ENOENT);
    expect(formatError(err)).toBe(`launch: cannot read \`${join(dir, 'config.json')}\`: No such file or directory (ENOENT)`);
  });

  it('names the errno when config.json cannot be read', () => {
    const dir = bundle();
    mkdirSync(join(dir, 'config.json'));
    const err = thrown(() => loadSpec(dir));
    expect(err.errno).toBe(os.errno.EISDIR);
    expect(err.file).toBe(join(dir, 'config.json'));
  });

  it.each([
    ['{\n  "ociVersion": "1.0.0",\n  "root": {"path": "r"},\n}', 4, 1, "expected a double-quoted property name"],
    ['{\n  "ociVersion": "1.0.0"\n  "root": {}\n}', 3, 3, "expected ',' or '}' after property value"],
    ['{"ociVersion": tru}', 1, 16, 'unexpected character "t"'],
    ['{"a": [1, 2', 1, 12, 'unexpected end of input'],
    ['', 1, 1, 'unexpected end of input'],
    ['{}\n{}', 2, 1, 'unexpected "{" after the end of the document'],
  ])('reports invalid JSON with line and column: %j', (text, line, column, why) => {
    const dir = bundle(text);
    const err = thrown(() => loadSpec(dir));
    expect(err.code).toBe('SPEC_JSON');
    expect(err.file).toBe(join(dir, 'config.json'));
    expect(err.message).toBe(`invalid JSON (${why}) at line ${line}, column ${column} of`);
    expect(formatError(err).split('\n')).toHaveLength(1);
  });
});

describe('defaultSpec', () => {
  afterEach(() => vi.restoreAllMocks());

  // runc 1.1 writes its own spec version; launch writes the version it implements.
  const asLaunch = (text: string) => text.replace('"ociVersion": "1.0.2-dev"', `"ociVersion": "${OCI_VERSION}"`);
  // launch's starter is runc's but confined as by Docker: its 14 capabilities instead of runc's
  // three (with no ambient set), and Docker's seccomp profile. Undo exactly that and the rest
  // must be runc's text, key order included.
  const RUNC_CAPS = runcSpec().process.capabilities;
  const asRunc = (spec: Spec): Spec => {
    const s = structuredClone(spec);
    s.process!.capabilities = RUNC_CAPS;
    delete s.linux!.seccomp;
    return s;
  };
  const dockerConfined = (spec: Spec) => {
    expect(spec.process!.capabilities).toEqual({ bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS });
    expect(spec.linux!.seccomp).toEqual(defaultSeccomp({ caps: DEFAULT_CAPS, kernel: SECCOMP_KERNEL }));
    // Where runtime-spec's Go struct (and so podman's config.json) has it: after namespaces.
    expect(Object.keys(spec.linux!).slice(-4)).toEqual(['namespaces', 'seccomp', 'maskedPaths', 'readonlyPaths']);
  };

  it('is what runc spec writes, key order included, but confined as by Docker', () => {
    const spec = defaultSpec({ rootless: false });
    dockerConfined(spec);
    expect(JSON.stringify(asRunc(spec), null, '\t')).toBe(asLaunch(fixtureText('runc-spec.json')));
  });

  it('is what runc spec --rootless writes for the same ids, but confined as by Docker', () => {
    const spec = defaultSpec({ rootless: true, uid: 0, gid: 0 });
    dockerConfined(spec);
    expect(JSON.stringify(asRunc(spec), null, '\t')).toBe(asLaunch(fixtureText('runc-spec-rootless.json')));
  });

  it('maps the caller, read at call time', () => {
    vi.spyOn(process, 'getuid').mockReturnValue(1234);
    vi.spyOn(process, 'getgid').mockReturnValue(5678);
    const linux = defaultSpec({ rootless: true }).linux!;
    expect(linux.uidMappings).toEqual([{ containerID: 0, hostID: 1234, size: 1 }]);
    expect(linux.gidMappings).toEqual([{ containerID: 0, hostID: 5678, size: 1 }]);
    expect(defaultSpec({ rootless: true, uid: 7, gid: 8 }).linux!.uidMappings![0]!.hostID).toBe(7);
  });

  it('takes args and passes its own schema', () => {
    const spec = defaultSpec({ rootless: false, args: ['/bin/true'] });
    expect(spec.process!.args).toEqual(['/bin/true']);
    expect(spec.process!.terminal).toBe(true);
    expect(SpecSchema.safeParse(spec).success).toBe(true);
    expect(SpecSchema.safeParse(defaultSpec({ rootless: true })).success).toBe(true);
  });
});

describe('demoSpec', () => {
  const host = new Set(['/usr', '/bin', '/lib', '/lib64', '/etc']);
  const opts = { uid: 1000, gid: 1000, args: ['/bin/echo', 'hi'], hostname: 'demo', exists: (p: string) => host.has(p) };

  it('binds only the host directories that exist, read-only, and never /etc', () => {
    const spec = demoSpec({ ...opts, rootless: false });
    const binds = spec.mounts!.filter((m) => m.type === 'bind');
    expect(binds.map((m) => m.destination)).toEqual(['/usr', '/bin', '/lib', '/lib64']);
    for (const m of binds) {
      expect(m.source).toBe(m.destination);
      expect(m.options).toContain('ro');
    }
    expect(spec.mounts!.map((m) => m.destination)).not.toContain('/etc');
    expect(spec.mounts!.slice(0, 4).map((m) => `${m.type} ${m.destination}`)).toEqual(['proc /proc', 'tmpfs /dev', 'devpts /dev/pts', 'tmpfs /tmp']);
    expect(spec.process!.terminal).toBe(false);
    expect(spec.process!.args).toEqual(['/bin/echo', 'hi']);
    expect(spec.hostname).toBe('demo');
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']);
    expect(spec.linux!.uidMappings).toBeUndefined();
    expect(SpecSchema.safeParse(spec).success).toBe(true);
  });

  it('adds a user namespace mapping the given ids when rootless', () => {
    const spec = demoSpec({ ...opts, rootless: true });
    expect(spec.linux!.namespaces!.map((n) => n.type)).toEqual(['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup', 'user']);
    expect(spec.linux!.uidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(spec.linux!.gidMappings).toEqual([{ containerID: 0, hostID: 1000, size: 1 }]);
    expect(spec.mounts!.find((m) => m.destination === '/dev/pts')!.options).not.toContain('gid=5');
    expect(SpecSchema.safeParse(spec).success).toBe(true);
  });
});
