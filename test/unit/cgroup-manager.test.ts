// Where the container's cgroup goes and what is created, against a temporary directory
// standing in for /sys/fs/cgroup.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createCgroup, parseSelfCgroup, planCgroup } from '../../lib/cgroups/manager.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Spec } from '../../lib/spec/schema.js';
import { thrown } from '../helpers/thrown.js';

let dirs: string[] = [];
afterEach(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs = [];
});

function fakeV1(): string {
  const root = mkdtempSync(join(tmpdir(), 'cgv1-'));
  dirs.push(root);
  for (const c of ['memory', 'pids', 'devices', 'cpuset']) mkdirSync(join(root, c, 'infra'), { recursive: true });
  return root;
}

const SELF_V1 = '9:name=systemd:/\n4:memory:/infra\n3:pids:/\n2:devices:/\n1:cpuset:/\n0::/\n';
const spec = (edit: (s: Spec) => void = () => {}): Spec => {
  const s = defaultSpec({ rootless: false });
  edit(s);
  return s;
};

describe('planCgroup', () => {
  it('parses /proc/self/cgroup, comma-joined hierarchies included', () => {
    expect([...parseSelfCgroup('3:cpu,cpuacct:/a\n0::/b\n').entries()]).toEqual([['cpu', '/a'], ['cpuacct', '/a'], ['', '/b']]);
  });

  it('v1: the id below launch\'s own cgroup in every mounted hierarchy, runc\'s device defaults appended', () => {
    const mount = fakeV1();
    const p = planCgroup(spec((s) => void (s.linux!.resources!.pids = { limit: 7 })), 'box', { uid: 0, version: 1, mount, selfCgroup: SELF_V1 })!;
    expect(p.created).toEqual([join(mount, 'memory/infra/box'), join(mount, 'pids/box'), join(mount, 'devices/box'), join(mount, 'cpuset/box')]);
    expect(p.writes.filter((w) => w.controller === 'devices').map((w) => `${w.file} ${w.value}`).slice(0, 3)).toEqual([
      'devices.deny a', 'devices.deny a *:* rwm', 'devices.allow c *:* m',
    ]);
    expect(p.writes.find((w) => w.file === 'pids.max')!.value).toBe('7');
  });

  it('an absolute cgroupsPath is taken from the hierarchy root; `..` is refused', () => {
    const mount = fakeV1();
    const p = planCgroup(spec((s) => void (s.linux!.cgroupsPath = '/launch/x')), 'box', { uid: 0, version: 1, mount, selfCgroup: SELF_V1 })!;
    expect(p.created[0]).toBe(join(mount, 'memory/launch/x'));
    const e = thrown(() => planCgroup(spec((s) => void (s.linux!.cgroupsPath = 'a/../../b')), 'box', { uid: 0, version: 1, mount, selfCgroup: SELF_V1 }), 'spec');
    expect(e.configPath).toBe('linux.cgroupsPath');
  });

  it('rootless: no cgroup without limits; limits refused with the config path', () => {
    const host = { uid: 1000, version: 1 as const, mount: '/nonexistent', selfCgroup: SELF_V1 };
    expect(planCgroup(spec((s) => delete s.linux!.resources), 'box', host)).toBeUndefined();
    expect(planCgroup(spec(), 'box', host)).toBeUndefined(); // device rules alone are not limits
    const e = thrown(() => planCgroup(spec((s) => void (s.linux!.resources = { memory: { limit: 1 << 20 } })), 'box', host), 'spec');
    expect(e.configPath).toBe('linux.resources');
  });

  it('v2: one directory below the parent of launch\'s own cgroup (as runc), controllers enabled along the path', () => {
    const p = planCgroup(spec((s) => void (s.linux!.resources = { memory: { limit: 1 << 20 }, pids: { limit: 5 } })), 'box', {
      uid: 0, version: 2, mount: '/cg', selfCgroup: '0::/svc/session\n',
    })!;
    expect(p.created).toEqual(['/cg/svc', '/cg/svc/box']);
    expect(p.enable).toEqual(['/cg', '/cg/svc']);
    expect(p.joins).toEqual(['/cg/svc/box']);
  });
});

describe('planCgroup rootless on v2', () => {
  const limits = spec((s) => void (s.linux!.resources = { pids: { limit: 5 } }));
  function delegated(): { mount: string; writable: (p: string) => boolean } {
    const mount = mkdtempSync(join(tmpdir(), 'cgv2-'));
    dirs.push(mount);
    mkdirSync(join(mount, 'user-1000/session'), { recursive: true });
    // The user owns its subtree (as systemd's user@1000.service), nothing above it.
    return { mount, writable: (p) => p.startsWith(join(mount, 'user-1000')) };
  }

  it('uses the subtree delegated to the user: the parent of its own cgroup', () => {
    const { mount, writable } = delegated();
    const p = planCgroup(limits, 'box', { uid: 1000, version: 2, mount, selfCgroup: '0::/user-1000/session\n', writable })!;
    expect(p.joins).toEqual([join(mount, 'user-1000/box')]);
    expect(p.writes.map((w) => `${w.file}=${w.value}`)).toEqual(['pids.max=5']);
  });

  it('a cgroup there even without limits (as runc); none when not delegated', () => {
    const { mount, writable } = delegated();
    const none = spec((s) => delete s.linux!.resources);
    expect(planCgroup(none, 'box', { uid: 1000, version: 2, mount, selfCgroup: '0::/user-1000/session\n', writable })!.joins).toEqual([join(mount, 'user-1000/box')]);
    expect(planCgroup(none, 'box', { uid: 1000, version: 2, mount, selfCgroup: '0::/user.slice/session-1.scope\n', writable })).toBeUndefined();
  });

  it('limits outside a delegated subtree: refused naming the cgroup, or dropped when asked', () => {
    const { mount, writable } = delegated();
    const host = { uid: 1000, version: 2 as const, mount, selfCgroup: '0::/user.slice/session-1.scope\n', writable };
    const e = thrown(() => planCgroup(limits, 'box', host), 'spec');
    expect(e.configPath).toBe('linux.resources');
    expect(e.message).toContain(`the cgroup ${join(mount, 'user.slice/box')} is not delegated to uid 1000`);
    expect(planCgroup(limits, 'box', { ...host, ignoreLimits: true })).toBeUndefined();
  });
});

describe('createCgroup', () => {
  it('a write that fails removes what was created and names the file', () => {
    const mount = fakeV1();
    const p = planCgroup(spec((s) => void (s.linux!.resources = { pids: { limit: 3 } })), 'box', { uid: 0, version: 1, mount, selfCgroup: SELF_V1 })!;
    p.created = p.created.filter((d) => !d.includes('cpuset'));
    // pids.max does not exist in a plain directory: ENOENT, a host error naming it.
    const e = thrown(() => createCgroup(p));
    expect([e.configPath, e.file]).toEqual(['linux.resources.pids.limit', join(mount, 'pids/box/pids.max')]);
    for (const d of p.created) expect(() => readFileSync(d)).toThrow(/ENOENT/);
  });
});

// What launch made is what it may remove: a cgroupsPath naming a cgroup that exists (shared
// with the host's processes, or the admin's) or a v2 path's existing ancestors are not launch's.
// Seen failing before the fix: the existing leaf (v1) and the existing ancestor (v2) were in
// the list, which delete and the run's teardown rmdir.
describe('createCgroup: only what it made', () => {
  it('v1: an existing leaf is joined, not made, and the record says so before the first mkdir', () => {
    const mount = fakeV1();
    const p = planCgroup(spec((s) => delete s.linux!.resources), 'box', { uid: 0, version: 1, mount, selfCgroup: SELF_V1 })!;
    p.created = p.created.filter((d) => !d.includes('cpuset'));
    mkdirSync(join(mount, 'pids/box'));
    const records: string[][] = [];
    const made = createCgroup(p, (d) => records.push([...d]));
    expect(made).toEqual([join(mount, 'memory/infra/box'), join(mount, 'devices/box')]);
    expect(records).toEqual([made, made]);
  });

  it('v2: the existing ancestors of the path are not made', () => {
    const mount = mkdtempSync(join(tmpdir(), 'cgv2-'));
    dirs.push(mount);
    mkdirSync(join(mount, 'svc/session'), { recursive: true });
    for (const d of [mount, join(mount, 'svc')]) {
      writeFileSync(join(d, 'cgroup.controllers'), 'memory pids\n');
      writeFileSync(join(d, 'cgroup.subtree_control'), '');
    }
    const p = planCgroup(spec((s) => delete s.linux!.resources), 'box', { uid: 0, version: 2, mount, selfCgroup: '0::/svc/session\n' })!;
    expect(createCgroup(p)).toEqual([join(mount, 'svc/box')]);
  });

  it('v2: kernelTCP is a limit asked for, dropped by --ignore-cgroup-limits rather than refused', () => {
    const tcp = spec((s) => void (s.linux!.resources = { memory: { kernelTCP: 1 << 20 } }));
    const host = { uid: 1000, version: 2 as const, mount: '/nonexistent', selfCgroup: '0::/user.slice/s.scope\n', writable: () => false };
    expect(thrown(() => planCgroup(tcp, 'box', host), 'spec').configPath).toBe('linux.resources');
    expect(planCgroup(tcp, 'box', { ...host, ignoreLimits: true })).toBeUndefined();
    const root = { uid: 0, version: 2 as const, mount: '/cg', selfCgroup: '0::/svc/session\n' };
    expect(thrown(() => planCgroup(tcp, 'box', root), 'spec').configPath).toBe('linux.resources.memory.kernelTCP');
  });
});
