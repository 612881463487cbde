// Which processes in a container's cgroup are the container's (lib/cgroups/members.ts), with
// this test's own process standing in for the host's: no privileges needed.
import { mkdtempSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { CgroupPlan } from '../../lib/cgroups/manager.js';
import { belongs, isForeign, isShared, ownNamespace, warnShared } from '../../lib/cgroups/members.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import { processStartTime } from '../../lib/state/proc.js';
import type { ContainerState } from '../../lib/state/store.js';

const state = (extra: Partial<ContainerState>): ContainerState => ({ ociVersion: '1.2.0', id: 'box', status: 'running', bundle: '/b', pid: 999999, ...extra });
const cg = (created?: string[]) => ({ version: 1 as const, dirs: { pids: '/cg/pids/box', memory: '/cg/memory/box' }, ...(created ? { created } : {}) });

describe('cgroup members', () => {
  it('a cgroup is shared when a directory the container joined was not made by launch', () => {
    expect(isShared(cg(['/cg/pids/box', '/cg/memory/box']))).toBe(false);
    expect(isShared(cg(['/cg/pids/box']))).toBe(true);
    expect(isShared(cg())).toBe(false); // a state from before the record: as before
  });

  // The guard: a namespace made only after the first sync (a joined user namespace) is still
  // launch's own when read; recorded, it would make every host process "the container's".
  it('a namespace that is still launch\'s own is not recorded as the container\'s', () => {
    expect(ownNamespace(defaultSpec({ rootless: false }), process.pid)).toBeUndefined();
  });

  it('in a shared cgroup, only processes in (or below) the container\'s namespace', () => {
    const self = readlinkSync('/proc/self/ns/mnt');
    expect(belongs(state({ cgroup: cg(['/cg/pids/box']), ns: { type: 'mnt', link: self } }), process.pid)).toBe(true);
    expect(belongs(state({ cgroup: cg(['/cg/pids/box']), ns: { type: 'mnt', link: 'mnt:[1]' } }), process.pid)).toBe(false);
    // No namespace of its own: descendants of its init only (pid and start time).
    expect(belongs(state({ cgroup: cg(['/cg/pids/box']) }), process.pid)).toBe(false);
    const parent = { pid: process.ppid, started: processStartTime(process.ppid) };
    expect(belongs(state({ cgroup: cg(['/cg/pids/box']), ...parent }), process.pid)).toBe(true);
    expect(belongs(state({ cgroup: cg(['/cg/pids/box']), ...parent, started: 1 }), process.pid)).toBe(false); // a recycled pid
    // A cgroup launch made, no pid namespace to tell by: everything, as runc.
    const own = cg(['/cg/pids/box', '/cg/memory/box']);
    expect(belongs(state({ cgroup: own }), process.pid)).toBe(true);
    expect(belongs(state({ cgroup: own, ns: { type: 'mnt', link: 'mnt:[1]' } }), process.pid)).toBe(true);
    expect(belongs(state({ cgroup: own, ns: { type: 'pid', link: 'pid:[1]' } }), process.pid)).toBe(false);
  });

  // Seen in CI (cgroup v2 guest, pause of a shell loop that forks `mv`): a child that exited
  // between cgroup.procs and the look at its namespace was taken for another's process, and
  // pause refused the container's own cgroup.
  it('a process that is gone by the time it is looked at is no one else\'s', () => {
    const s = state({ cgroup: cg(['/cg/pids/box', '/cg/memory/box']), ns: { type: 'pid', link: 'pid:[1]' } });
    expect(isForeign(s, process.pid)).toBe(true); // there, and in another pid namespace
    const gone = 4194305; // above pid_max's ceiling: never a live process
    expect(belongs(s, gone)).toBe(false);
    expect(isForeign(s, gone)).toBe(false);
  });

  // A program embedding launch (lib/index.ts `warn`) gets the line, not its stderr.
  it('a joined cgroup that already holds processes is one warning, to the caller\'s callback', () => {
    const dir = mkdtempSync(join(tmpdir(), 'launch-members-'));
    const stderr = vi.spyOn(process.stderr, 'write');
    try {
      writeFileSync(join(dir, 'cgroup.procs'), '4242\n4343\n');
      const plan = { joins: [dir] } as unknown as CgroupPlan;
      const lines: string[] = [];
      warnShared(plan, [], 'create box', (line) => lines.push(line));
      warnShared(plan, [dir], 'create box', (line) => lines.push(line)); // made by launch: its own
      expect(stderr).not.toHaveBeenCalled();
      expect(lines).toEqual([expect.stringMatching(/^launch: warning: create box: linux\.cgroupsPath: the cgroup `[^`]+` already holds 2 process\(es\) that are not the container's/)]);
    } finally {
      stderr.mockRestore();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
