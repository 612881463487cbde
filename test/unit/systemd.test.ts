// The systemd cgroup driver without systemd: linux.cgroupsPath -> unit, resources -> unit
// properties (names, D-Bus signatures, values, as runc sends them), annotations, and the D-Bus
// conversation itself against a stand-in systemd on a private in-process bus.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  INFINITY, type Property, SystemdConnection, annotationProperties, expandSlice, parseCgroupsPath, parseGVariant, rangeToBits,
  resourceProperties, systemdDriver, systemdRunning, systemdUnitOf, unitProperties,
} from '../../lib/cgroups/systemd.js';
import { formatError } from '../../lib/errors.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Resources, Spec } from '../../lib/spec/schema.js';
import { thrown } from '../helpers/thrown.js';

const spec = (edit: (s: Spec) => void = () => {}): Spec => {
  const s = defaultSpec({ rootless: false });
  edit(s);
  return s;
};
const props = (r: Resources, version = 252): Property[] => resourceProperties(r, version).props;

describe('linux.cgroupsPath with --systemd-cgroup', () => {
  it('is slice:prefix:name; the unit is <prefix>-<name>.scope in that slice', () => {
    expect(parseCgroupsPath('system.slice:launch-test:abc', 'id', false)).toEqual({ slice: 'system.slice', unit: 'launch-test-abc.scope', kind: 'scope' });
    expect(parseCgroupsPath('machine-web.slice:docker:1234', 'id', false)).toEqual({ slice: 'machine-web.slice', unit: 'docker-1234.scope', kind: 'scope' });
    // No prefix: <name>.scope (runc >= 1.2).
    expect(parseCgroupsPath('system.slice::abc', 'id', false).unit).toBe('abc.scope');
    // The root slice.
    expect(parseCgroupsPath('-.slice:p:n', 'id', false).slice).toBe('-.slice');
  });

  it('defaults: empty slice is system.slice (root) or user.slice (rootless); empty path is :launch:<id>', () => {
    expect(parseCgroupsPath(':p:n', 'id', false).slice).toBe('system.slice');
    expect(parseCgroupsPath(':p:n', 'id', true).slice).toBe('user.slice');
    expect(parseCgroupsPath(undefined, 'web1', false)).toEqual({ slice: 'system.slice', unit: 'launch-web1.scope', kind: 'scope' });
    expect(parseCgroupsPath('', 'web1', true)).toEqual({ slice: 'user.slice', unit: 'launch-web1.scope', kind: 'scope' });
  });

  it('a name ending in .slice makes a slice (the prefix is ignored), ordered after its parent', () => {
    expect(parseCgroupsPath('system.slice:ignored:pod-a.slice', 'id', false)).toEqual({ slice: 'system.slice', unit: 'pod-a.slice', kind: 'slice' });
  });

  it('refuses what systemd would refuse, naming linux.cgroupsPath', () => {
    const e1 = thrown(() => parseCgroupsPath('/launch/abc', 'abc', false), 'spec');
    expect(formatError(e1)).toBe('launch: linux.cgroupsPath: expected `slice:prefix:name` with --systemd-cgroup (e.g. `system.slice:launch:abc`), got `/launch/abc`');
    expect(thrown(() => parseCgroupsPath('a:b', 'x', false)).message).toMatch(/expected `slice:prefix:name`/);
    expect(thrown(() => parseCgroupsPath('a:b:c:d', 'x', false)).message).toMatch(/expected `slice:prefix:name`/);
    expect(thrown(() => parseCgroupsPath('system:p:n', 'x', false)).message).toBe('invalid slice name `system` (expected NAME.slice, with `-` for nesting and no `/`)');
    expect(thrown(() => parseCgroupsPath('a/b.slice:p:n', 'x', false)).message).toMatch(/invalid slice name/);
    expect(thrown(() => parseCgroupsPath('a--b.slice:p:n', 'x', false)).message).toMatch(/invalid slice name/);
    expect(thrown(() => parseCgroupsPath('system.slice:p:', 'x', false)).message).toMatch(/name in `system.slice:p:` is empty/);
    expect(thrown(() => parseCgroupsPath('system.slice:p:a b', 'x', false)).message).toMatch(/`p-a b.scope` is not a valid systemd unit name/);
    // A container id may hold `+`, a unit name may not.
    expect(thrown(() => parseCgroupsPath(undefined, 'a+b', false)).message).toMatch(/`launch-a\+b.scope` is not a valid systemd unit name.*set linux.cgroupsPath/);
  });
});

describe('expandSlice (as systemd and runc)', () => {
  it('nests on dashes', () => {
    expect(expandSlice('system.slice')).toBe('/system.slice');
    expect(expandSlice('a-b-c.slice')).toBe('/a.slice/a-b.slice/a-b-c.slice');
    expect(expandSlice('user-1000.slice')).toBe('/user.slice/user-1000.slice');
    expect(expandSlice('-.slice')).toBe('/');
  });
  it.each(['.slice', 'a', 'a.scope', '-a.slice', 'a-.slice', 'a--b.slice', 'a/b.slice'])('refuses %j', (s) => {
    thrown(() => expandSlice(s), 'spec');
  });
});

describe('rangeToBits (AllowedCPUs/AllowedMemoryNodes, little-endian as systemd reads it)', () => {
  it.each([
    ['0', [0x01]], ['1', [0x02]], ['0-1', [0x03]], ['0,1', [0x03]], [',0,1,', [0x03]], ['0-3', [0x0f]], ['0,1,2-3', [0x0f]],
    ['4-7', [0xf0]], ['0-7', [0xff]], ['0-15', [0xff, 0xff]], ['16', [0, 0, 1]], ['0-3,32-33', [0x0f, 0, 0, 0, 0x03]],
    ['1, 2, 1-2', [0x06]], ['128-130,1', [0x02, ...new Array<number>(15).fill(0), 0x07]],
  ] as const)('%j -> %j', (list, bytes) => {
    expect([...rangeToBits(list, 'p')]).toEqual(bytes);
  });
  it.each(['', '-', '1-', '-3', '54-53', '1 - 2', 'x'])('refuses %j', (list) => {
    expect(thrown(() => rangeToBits(list, 'linux.resources.cpu.cpus'), 'spec').configPath).toBe('linux.resources.cpu.cpus');
  });
});

describe('resources -> unit properties', () => {
  it('memory: MemoryMax, MemoryLow, MemorySwapMax (t), -1 is infinity (2^64-1)', () => {
    expect(props({ memory: { limit: 268435456, reservation: 134217728, swap: 536870912 } })).toEqual([
      ['MemoryMax', 't', 268435456n], ['MemoryLow', 't', 134217728n], ['MemorySwapMax', 't', 268435456n],
    ]);
    expect(props({ memory: { limit: -1 } })).toEqual([['MemoryMax', 't', INFINITY], ['MemorySwapMax', 't', INFINITY]]);
    expect(INFINITY).toBe(18446744073709551615n);
    // swap == limit: no swap at all, said to systemd too (runc leaves its default there).
    expect(props({ memory: { limit: 1048576, swap: 1048576 } })).toEqual([['MemoryMax', 't', 1048576n], ['MemorySwapMax', 't', 0n]]);
    expect(props({ memory: { limit: 0 } })).toEqual([]);
  });

  it('pids: TasksMax (t); -1 is infinity; 0 is left to cgroupfs (systemd refuses TasksMax=0)', () => {
    expect(props({ pids: { limit: 20 } })).toEqual([['TasksMax', 't', 20n]]);
    expect(props({ pids: { limit: -1 } })).toEqual([['TasksMax', 't', INFINITY]]);
    expect(props({ pids: { limit: 0 } })).toEqual([]);
  });

  it('cpu: CPUWeight from shares (runc >= 1.3.2 mapping), CPUQuotaPeriodUSec, CPUQuotaPerSecUSec', () => {
    expect(props({ cpu: { shares: 1024 } })).toEqual([['CPUWeight', 't', 100n]]);
    expect(props({ cpu: { shares: 2 } })).toEqual([['CPUWeight', 't', 1n]]);
    expect(props({ cpu: { quota: 50000, period: 100000 } })).toEqual([['CPUQuotaPeriodUSec', 't', 100000n], ['CPUQuotaPerSecUSec', 't', 500000n]]);
    // No period: the kernel's default 100 ms; no CPUQuotaPeriodUSec.
    expect(props({ cpu: { quota: 200000 } })).toEqual([['CPUQuotaPerSecUSec', 't', 2000000n]]);
    // A period alone: unlimited quota.
    expect(props({ cpu: { period: 50000 } })).toEqual([['CPUQuotaPeriodUSec', 't', 50000n], ['CPUQuotaPerSecUSec', 't', INFINITY]]);
    // systemd >= 242 only for the period.
    expect(props({ cpu: { quota: 50000, period: 100000 } }, 241)).toEqual([['CPUQuotaPerSecUSec', 't', 500000n]]);
  });

  it('cpu quota: rounded up to whole percents of a CPU, and cgroupfs gets the rounded quota too', () => {
    // 12345/100000 = 123450 us/s -> 130000 us/s -> quota 13000.
    const { props: p, resources } = resourceProperties({ cpu: { quota: 12345, period: 100000 } }, 252);
    expect(p).toEqual([['CPUQuotaPeriodUSec', 't', 100000n], ['CPUQuotaPerSecUSec', 't', 130000n]]);
    expect(resources.cpu?.quota).toBe(13000);
    expect(resourceProperties({ cpu: { quota: 50000 } }, 252).resources.cpu?.quota).toBe(50000);
  });

  it('cpu.idle=1 is CPUWeight=0 (systemd >= 252), and then no weight from shares', () => {
    expect(props({ cpu: { idle: 1, shares: 1024 } })).toEqual([['CPUWeight', 't', 0n]]);
    expect(props({ cpu: { idle: 1, shares: 1024 } }, 251)).toEqual([]);
  });

  it('cpuset: AllowedCPUs, AllowedMemoryNodes (ay) from systemd 244', () => {
    const p = props({ cpu: { cpus: '0-1,4', mems: '0' } });
    expect(p.map(([n, s, v]) => [n, s, [...(v as Buffer)]])).toEqual([['AllowedCPUs', 'ay', [0x13]], ['AllowedMemoryNodes', 'ay', [0x01]]]);
    expect(props({ cpu: { cpus: '0-1' } }, 243)).toEqual([]);
  });

  it('blockIO.weight: IOWeight (t), converted to the io.weight range', () => {
    expect(props({ blockIO: { weight: 500 } })).toEqual([['IOWeight', 't', 4950n]]);
    expect(props({ blockIO: { weight: 10 } })).toEqual([['IOWeight', 't', 1n]]);
  });

  it('unified: the keys systemd knows, others left to cgroupfs', () => {
    expect(props({ unified: { 'memory.high': '1048576', 'memory.min': 'max', 'pids.max': '7', 'cpu.weight': '50', 'cpu.max': '25000 50000', 'io.max': '8:0 rbps=1', 'cpuset.cpus': '1' } })).toEqual([
      ['CPUQuotaPeriodUSec', 't', 50000n], ['CPUQuotaPerSecUSec', 't', 500000n], ['CPUWeight', 't', 50n],
      ['AllowedCPUs', 'ay', Buffer.from([2])], ['MemoryHigh', 't', 1048576n], ['MemoryMin', 't', INFINITY], ['TasksMax', 't', 7n],
    ]);
    expect(props({ unified: { 'cpu.max': 'max' } })).toEqual([['CPUQuotaPeriodUSec', 't', 100000n], ['CPUQuotaPerSecUSec', 't', INFINITY]]);
    expect(thrown(() => props({ unified: { 'memory.high': 'lots' } })).configPath).toBe('linux.resources.unified["memory.high"]');
  });

  it('checks values the schema cannot, naming the config path', () => {
    expect(thrown(() => props({ memory: { limit: 100, swap: 50 } })).configPath).toBe('linux.resources.memory.swap');
    expect(thrown(() => props({ cpu: { cpus: '3-1' } })).configPath).toBe('linux.resources.cpu.cpus');
  });
});

describe('unit properties', () => {
  it('a scope: Description, Slice, Delegate, PIDs, accounting, DefaultDependencies=false', () => {
    const target = parseCgroupsPath('system.slice:launch-test:c1', 'c1', false);
    expect(unitProperties(target, 'c1', 4242, spec())).toEqual([
      ['Description', 's', 'launch container c1'],
      ['Slice', 's', 'system.slice'],
      ['Delegate', 'b', true],
      ['PIDs', 'au', [4242]],
      ['MemoryAccounting', 'b', true], ['CPUAccounting', 'b', true], ['IOAccounting', 'b', true], ['TasksAccounting', 'b', true],
      ['DefaultDependencies', 'b', false],
    ]);
  });

  it('a slice: Wants= its parent, no PIDs, no Delegate', () => {
    const target = parseCgroupsPath('system.slice:x:pod-a.slice', 'c1', false);
    const p = unitProperties(target, 'c1', 4242, spec());
    expect(p.slice(0, 2)).toEqual([['Description', 's', 'launch container c1'], ['Wants', 'as', ['system.slice']]]);
    expect(p.map(([n]) => n)).not.toContain('PIDs');
    expect(p.map(([n]) => n)).not.toContain('Delegate');
  });

  it('org.systemd.property.* annotations and memory.oom.group (OOMPolicy) come after the base ones', () => {
    const s = spec((x) => {
      x.annotations = { 'org.systemd.property.TimeoutStopSec': 'uint64 5', 'org.systemd.property.CollectMode': "'inactive-or-failed'", other: 'x' };
      x.linux!.resources = { unified: { 'memory.oom.group': '1' } };
    });
    const p = unitProperties(parseCgroupsPath(undefined, 'c1', false), 'c1', 1, s);
    expect(p.slice(-3)).toEqual([['CollectMode', 's', 'inactive-or-failed'], ['TimeoutStopUSec', 't', 5000000n], ['OOMPolicy', 's', 'kill']]);
  });
});

describe('GVariant text (annotation values)', () => {
  it.each([
    ['uint64 123456789', ['t', 123456789n]], ['int64 -1', ['x', -1n]], ['uint32 7', ['u', 7]], ['byte 255', ['y', 255]],
    ['true', ['b', true]], ['false', ['b', false]], ['boolean true', ['b', true]], ['5', ['i', 5]], ['-5', ['i', -5]], ['1.5', ['d', 1.5]],
    ["'inactive-or-failed'", ['s', 'inactive-or-failed']], ['"a\\"b"', ['s', 'a"b']], ["['a', 'b']", ['as', ['a', 'b']]],
    ['@as []', ['as', []]], ['@t 3', ['t', 3n]], ['[uint32 1, 2]', ['au', [1, 2]]], ['  uint64   0x10 ', ['t', 16n]],
  ] as const)('%j', (text, expected) => {
    expect(parseGVariant(text)).toEqual(expected);
  });
  it.each(['', 'uint64 -1', '3000000000', 'int32 1.5', "'open", '[]', "[1, 'a']", 'string 5', '1 2', 'bogus'])('refuses %j', (text) => {
    expect(() => parseGVariant(text)).toThrow();
  });
  it('annotation names are three or more letters; *Sec takes seconds and becomes *USec', () => {
    expect(annotationProperties({ 'org.systemd.property.RuntimeMaxSec': '1.5' })).toEqual([['RuntimeMaxUSec', 't', 1500000n]]);
    expect(annotationProperties({ 'org.systemd.property.TimeoutStopSec': 'uint64 2' })).toEqual([['TimeoutStopUSec', 't', 2000000n]]);
    const e = thrown(() => annotationProperties({ 'org.systemd.property.Bad_Name': 'true' }), 'spec');
    expect(e.configPath).toBe('annotations["org.systemd.property.Bad_Name"]');
    expect(thrown(() => annotationProperties({ 'org.systemd.property.Foo': 'nope' })).message).toMatch(/cannot parse the value as GVariant text/);
    expect(thrown(() => annotationProperties({ 'org.systemd.property.TimeoutStopSec': "'x'" })).message).toMatch(/takes a number of seconds/);
  });
});

describe('the state record', () => {
  it('systemdUnitOf reads the unit of a recorded cgroup', () => {
    expect(systemdUnitOf({ version: 2, dirs: { '': '/x' }, systemd: { unit: 'a.scope', user: true } })).toEqual({ unit: 'a.scope', user: true });
    expect(systemdUnitOf({ version: 2, dirs: { '': '/x' } })).toBeUndefined();
    expect(systemdUnitOf(undefined)).toBeUndefined();
  });
});

describe.skipIf(systemdRunning())('without systemd', () => {
  it('--systemd-cgroup fails in one line that names the flag', async () => {
    const err = await systemdDriver(spec(), 'c1', { uid: 0, cgroupVersion: 2 }).catch((e: unknown) => e);
    expect(formatError(err)).toBe('launch: --systemd-cgroup: systemd is not running on this host (no /run/systemd/system); run without --systemd-cgroup to use the cgroupfs driver');
  });
});

// A stand-in for systemd's manager on a private bus (dbus-native's in-process broker): what
// arrives over the wire is what systemd would receive.
describe('the D-Bus conversation', () => {
  const require = createRequire(import.meta.url);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dbus = require('dbus-native') as any;
  const dir = mkdtempSync(join(tmpdir(), 'launch-sd-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function fakeSystemd(opts: { result?: string; exists?: number } = {}) {
    const broker = dbus.createBroker();
    const address: string = await new Promise((resolve, reject) => broker.listen({ socket: join(dir, `bus-${Math.random()}`) }, (e: Error | null, a: string) => (e ? reject(e) : resolve(a))));
    const srv = dbus.createClient({ busAddress: address, variants: 'wrap', returnBigInt: true });
    await srv.requestName('org.freedesktop.systemd1', 0);
    const calls: unknown[][] = [];
    let job = 0;
    let exists = opts.exists ?? 0;
    const finish = (unit: string, result: string) => {
      const path = `/org/freedesktop/systemd1/job/${++job}`;
      setTimeout(() => mgr.emit('JobRemoved', job, path, unit, result), 5);
      return path;
    };
    const mgr: Record<string, any> = {
      Subscribe: () => {
        calls.push(['Subscribe']);
        return null;
      },
      StartTransientUnit: (name: string, mode: string, p: [string, { signature: string; value: unknown }][], aux: unknown[]) => {
        calls.push(['StartTransientUnit', name, mode, p.map(([k, v]) => [k, v.signature, v.value]), aux]);
        if (exists-- > 0) {
          const e = new Error(`Unit ${name} already exists.`);
          (e as any).dbusName = 'org.freedesktop.systemd1.UnitExists';
          throw e;
        }
        return finish(name, opts.result ?? 'done');
      },
      StopUnit: (name: string, mode: string) => {
        calls.push(['StopUnit', name, mode]);
        return finish(name, 'done');
      },
      ResetFailedUnit: (name: string) => {
        calls.push(['ResetFailedUnit', name]);
        return null;
      },
      Version: '252.38-1~deb12u1',
      emit: () => {},
    };
    srv.exportInterface(mgr, '/org/freedesktop/systemd1', {
      name: 'org.freedesktop.systemd1.Manager',
      methods: {
        Subscribe: ['', '', [], []], StartTransientUnit: ['ssa(sv)a(sa(sv))', 'o', [], []], StopUnit: ['ss', 'o', [], []], ResetFailedUnit: ['s', '', [], []],
      },
      signals: { JobRemoved: ['uoss', 'id', 'job', 'unit', 'result'] },
      properties: { Version: { type: 's', access: 'read' } },
    });
    const conn = await SystemdConnection.open(false, { DBUS_SYSTEM_BUS_ADDRESS: address }, 0);
    const close = async () => {
      await conn.close();
      await srv.close();
      await new Promise((r) => broker.close(r));
    };
    return { conn, calls, close };
  }

  it('subscribes, reads the version, starts the unit with the exact properties and waits for its job', async () => {
    const { conn, calls, close } = await fakeSystemd();
    try {
      expect(await conn.version()).toBe(252);
      const target = parseCgroupsPath('system.slice:launch-test:c1', 'c1', false);
      const r: Resources = { memory: { limit: 33554432 }, pids: { limit: 16 }, cpu: { cpus: '0' } };
      await conn.startTransientUnit(target.unit, [...unitProperties(target, 'c1', 77, spec()), ...props(r)]);
      await conn.stopUnit(target.unit);
      expect(calls).toEqual([
        ['Subscribe'],
        ['StartTransientUnit', 'launch-test-c1.scope', 'replace', [
          ['Description', 's', 'launch container c1'], ['Slice', 's', 'system.slice'], ['Delegate', 'b', true], ['PIDs', 'au', [77]],
          ['MemoryAccounting', 'b', true], ['CPUAccounting', 'b', true], ['IOAccounting', 'b', true], ['TasksAccounting', 'b', true],
          ['DefaultDependencies', 'b', false], ['MemoryMax', 't', 33554432n], ['TasksMax', 't', 16n], ['AllowedCPUs', 'ay', Buffer.from([1])],
        ], []],
        ['StopUnit', 'launch-test-c1.scope', 'replace'],
        ['ResetFailedUnit', 'launch-test-c1.scope'],
      ]);
    } finally {
      await close();
    }
  });

  it('a leftover unit of the same name is reset and the start retried once', async () => {
    const { conn, calls, close } = await fakeSystemd({ exists: 1 });
    try {
      await conn.startTransientUnit('x.scope', [['Description', 's', 'd']]);
      expect(calls.map((c) => c[0])).toEqual(['Subscribe', 'StartTransientUnit', 'ResetFailedUnit', 'StartTransientUnit']);
    } finally {
      await close();
    }
  });

  it('a job that does not end in "done" is an error naming the unit, and the unit is reset', async () => {
    const { conn, calls, close } = await fakeSystemd({ result: 'failed' });
    try {
      const err = await conn.startTransientUnit('x.scope', [['Description', 's', 'd']]).catch((e: unknown) => e);
      expect(formatError(err)).toBe('launch: systemd could not start the unit `x.scope` (job result: failed; see `journalctl -u x.scope`)');
      expect(calls.at(-1)).toEqual(['ResetFailedUnit', 'x.scope']);
    } finally {
      await close();
    }
  });

  it('a unit that exists and stays is an error with the D-Bus error name', async () => {
    const { conn, close } = await fakeSystemd({ exists: 2 });
    try {
      const err = await conn.startTransientUnit('x.scope', [['Description', 's', 'd']]).catch((e: unknown) => e);
      expect(formatError(err)).toMatch(/^launch: --systemd-cgroup: cannot create the systemd unit `x.scope`: .*already exists.*\(org.freedesktop.systemd1.UnitExists\)/);
    } finally {
      await close();
    }
  });

  it.skipIf(existsSync('/run/systemd/private'))('no bus to talk to: one line naming what was tried', async () => {
    const err = await SystemdConnection.open(false, { DBUS_SYSTEM_BUS_ADDRESS: `unix:path=${join(dir, 'nobody')}` }, 0).catch((e: unknown) => e);
    expect(formatError(err)).toMatch(/^launch: --systemd-cgroup: cannot talk to the system instance of systemd over D-Bus \(unix:path=.*nobody: .*ENOENT.*\)$/);
  });

  it('rootless without a session bus: says which instance and where it looked', async () => {
    const err = await SystemdConnection.open(true, { XDG_RUNTIME_DIR: dir }, 4242).catch((e: unknown) => e);
    expect(formatError(err)).toMatch(/^launch: --systemd-cgroup: cannot find the user instance of systemd \(user@4242.service\): DBUS_SESSION_BUS_ADDRESS is not set/);
  });
});
