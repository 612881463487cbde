// The systemd cgroup driver (--systemd-cgroup) against a real systemd: the container's cgroup
// is a transient scope with the limits as unit properties, as root (system instance) and for
// an ordinary user (the user's instance, user@UID.service, over its session bus). Needs
// systemd as PID 1: the cgroup-v2 guest booted with LAUNCH_VM_INIT=systemd (test/vm). Without
// systemd, only the refusal is tested.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { type RunAs, missing, runAs } from '../helpers/env.js';
import { exitOf, launchChild, launchSync, launchWords, spawnOptions, stateRoot, waitFor } from '../helpers/launch.js';

afterAll(() => cleanupBase());

function systemdIsInit(): boolean {
  try {
    return readFileSync('/proc/1/comm', 'utf8').trim() === 'systemd' && existsSync('/run/systemd/system');
  } catch {
    return false;
  }
}
const noSystemd = systemdIsInit() ? undefined : 'needs systemd as PID 1 (LAUNCH_VM_INIT=systemd test/vm/run-in-vm.sh ...)';
const cgroup2 = existsSync('/sys/fs/cgroup/cgroup.controllers') ? undefined : 'needs cgroup v2';

const MiB = 1024 * 1024;

/** The environment that finds the user's instance, as a login session has it. */
function userBusEnv(who: RunAs): NodeJS.ProcessEnv {
  const run = `/run/user/${who.uid}`;
  return { XDG_RUNTIME_DIR: run, DBUS_SESSION_BUS_ADDRESS: `unix:path=${run}/bus` };
}

/** `systemctl [--user] show UNIT -p ...` as a map, run as `who` (the user's instance for a user). */
function show(who: RunAs, unit: string, props: string[]): Record<string, string> {
  const user = who.uid !== 0;
  const r = spawnSync('systemctl', [...(user ? ['--user'] : []), 'show', unit, ...props.flatMap((p) => ['-p', p])], {
    encoding: 'utf8',
    env: { PATH: process.env.PATH, ...(user ? userBusEnv(who) : {}) },
    ...(user ? { uid: who.uid, gid: who.gid } : {}),
  });
  expect(r.status, r.stderr).toBe(0);
  return Object.fromEntries(r.stdout.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}

/** `launch --systemd-cgroup ARGS` as `who`; a user gets the environment of a login session. */
function launchSystemd(who: RunAs, args: string[]): ChildProcess {
  if (who.uid === 0) return launchChild(who, ['--systemd-cgroup', ...args]);
  return spawn(launchWords()[0]!, [...launchWords().slice(1), '--root', stateRoot(who), '--systemd-cgroup', ...args], { ...spawnOptions(who, { env: userBusEnv(who) }), stdio: 'pipe' });
}

const collect = (child: ChildProcess) => {
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  return () => err;
};

for (const mode of ['root', 'rootless'] as const) {
  const skip = noSystemd ?? cgroup2 ?? missing(mode, 'busybox', 'dist', 'addon', ...(mode === 'rootless' ? (['userns', 'newuidmap'] as const) : []));
  const slice = mode === 'root' ? 'system.slice' : 'user.slice';
  describe(skip ? `--systemd-cgroup as ${mode} (skipped: ${skip})` : `--systemd-cgroup as ${mode}`, () => {
    it.skipIf(skip)(`creates a transient scope in ${slice} with the limits as unit properties; it is gone after exit`, async () => {
      const who = runAs(mode)!;
      const id = `sd-${mode}-${process.pid}`;
      const unit = `launch-test-${id}.scope`;
      const pidFile = join(ownedDir(who, 'pid'), 'pid');
      const bundle = makeBundle(who, {
        args: ['/bin/sh', '-c', 'echo ready; read x; echo bye'],
        edit: (s) => {
          s.linux!.resources = { ...s.linux!.resources, memory: { limit: 48 * MiB }, pids: { limit: 24 }, cpu: { quota: 50000, period: 100000 } };
          s.linux!.cgroupsPath = `${slice}:launch-test:${id}`;
        },
      });
      const child = launchSystemd(who, ['--debug', 'run', '--pid-file', pidFile, '--bundle', bundle, id]);
      const stderr = collect(child);
      const exited = exitOf(child);
      try {
        await Promise.race([waitFor(child.stdout!, 'ready', 60_000), exited.then(() => Promise.reject(new Error(`launch exited: ${stderr()}`)))]);
        const pid = Number(readFileSync(pidFile, 'utf8'));

        // systemd's view: the unit, its limits, delegated, running.
        const p = show(who, unit, ['MemoryMax', 'TasksMax', 'CPUQuotaPerSecUSec', 'Delegate', 'ActiveState', 'Slice', 'ControlGroup', 'Description']);
        expect(p).toMatchObject({ MemoryMax: String(48 * MiB), TasksMax: '24', CPUQuotaPerSecUSec: '500ms', Delegate: 'yes', ActiveState: 'active', Slice: slice, Description: `launch container ${id}` });

        // The kernel's view: the container's init is in the scope, and the files say the same.
        const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n').find((l) => l.startsWith('0::'))!;
        const cgPath = line.slice(3);
        expect(cgPath).toBe(p.ControlGroup);
        expect(cgPath.endsWith(mode === 'root' ? `/system.slice/${unit}` : `/user@${who.uid}.service/user.slice/${unit}`)).toBe(true);
        const dir = join('/sys/fs/cgroup', cgPath);
        expect(readFileSync(join(dir, 'memory.max'), 'utf8').trim()).toBe(String(48 * MiB));
        expect(readFileSync(join(dir, 'pids.max'), 'utf8').trim()).toBe('24');
        expect(readFileSync(join(dir, 'cpu.max'), 'utf8').trim()).toBe('50000 100000');

        // The state records the scope and its unit, and the cgroup verbs use it.
        const state = JSON.parse(readFileSync(join(stateRoot(who), id, 'state.json'), 'utf8'));
        expect(state.cgroup).toEqual({ version: 2, dirs: { '': dir }, systemd: { unit, user: mode !== 'root' } });
        const ps = launchSync(who, ['ps', '--format', 'json', id]);
        expect(ps.status, ps.stderr).toBe(0);
        expect(JSON.parse(ps.stdout)).toContain(pid);
        for (const [verb, frozen] of [['pause', 1], ['resume', 0]] as const) {
          const r = launchSync(who, [verb, id]);
          expect(r.status, r.stderr).toBe(0);
          expect(readFileSync(join(dir, 'cgroup.events'), 'utf8')).toContain(`frozen ${frozen}`);
        }

        child.stdin!.end('go\n');
        expect((await exited).code, stderr()).toBe(0);
        expect(stderr()).toMatch(mode === 'root' ? /launch: debug: --systemd-cgroup: the system instance of systemd, systemd \d+, unit / : /launch: debug: --systemd-cgroup: the user instance of systemd \(user@\d+\.service\), systemd \d+, unit /);
        expect(show(who, unit, ['LoadState']).LoadState).toBe('not-found');
        expect(existsSync(dir)).toBe(false);
        expect(existsSync(join(stateRoot(who), id))).toBe(false);
      } finally {
        child.kill('SIGKILL');
      }
    });
  });
}

const rootSkip = noSystemd ?? cgroup2 ?? missing('root', 'busybox', 'dist', 'addon');
describe(rootSkip ? `--systemd-cgroup as root: slices, delete, fallback, failure (skipped: ${rootSkip})` : '--systemd-cgroup as root: slices, delete, fallback, failure', () => {
  it.skipIf(rootSkip)('a name ending in .slice makes a slice unit; the init is moved into its cgroup; stopped after exit', async () => {
    const who = runAs('root')!;
    const id = `sd-slice-${process.pid}`;
    const unit = `launchtest${process.pid}.slice`;
    const pidFile = join(ownedDir(who, 'pid'), 'pid');
    const bundle = makeBundle(who, {
      args: ['/bin/sh', '-c', 'echo ready; read x'],
      edit: (s) => {
        s.linux!.resources = { memory: { limit: 40 * MiB } };
        s.linux!.cgroupsPath = `system.slice:ignored:${unit}`;
      },
    });
    const child = launchChild(who, ['--systemd-cgroup', '--debug', 'run', '--pid-file', pidFile, '--bundle', bundle, id]);
    const stderr = collect(child);
    const exited = exitOf(child);
    try {
      await Promise.race([waitFor(child.stdout!, 'ready', 60_000), exited.then(() => Promise.reject(new Error(`launch exited: ${stderr()}`)))]);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      expect(show(who, unit, ['ActiveState', 'MemoryMax', 'Wants'])).toEqual({ ActiveState: 'active', MemoryMax: String(40 * MiB), Wants: 'system.slice' });
      expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toBe(`0::/${unit}\n`);
      expect(readFileSync(join('/sys/fs/cgroup', unit, 'memory.max'), 'utf8').trim()).toBe(String(40 * MiB));
      child.stdin!.end('go\n');
      expect((await exited).code, stderr()).toBe(0);
      // Stopped. Unlike the scopes, the stopped transient slice may stay loaded (its parent's
      // WantedBy= still names it), as with runc.
      expect(show(who, unit, ['ActiveState', 'ControlGroup']), stderr()).toEqual({ ActiveState: 'inactive', ControlGroup: '' });
      expect(existsSync(join('/sys/fs/cgroup', unit))).toBe(false);
    } finally {
      child.kill('SIGKILL');
    }
  });

  it.skipIf(rootSkip)('delete --force stops the unit of a container whose launch was killed', async () => {
    const who = runAs('root')!;
    const id = `sd-del-${process.pid}`;
    const unit = `launch-${id}.scope`; // cgroupsPath left out: :launch:<id> in system.slice
    // launch is killed once the unit exists: it cannot clean up, so the state stays (the
    // container dies with it, PR_SET_PDEATHSIG, and systemd drops the empty scope by itself or
    // delete stops it, whichever comes first).
    const bundle = makeBundle(who, { args: ['/bin/sh', '-c', 'echo ready; sleep 1000'] });
    const child = launchChild(who, ['--systemd-cgroup', 'run', '--bundle', bundle, id]);
    await waitFor(child.stdout!, 'ready', 60_000);
    expect(show(who, unit, ['ActiveState', 'Slice'])).toEqual({ ActiveState: 'active', Slice: 'system.slice' });
    child.kill('SIGKILL');
    await exitOf(child);
    const r = launchSync(who, ['delete', '--force', id]);
    expect(r.status, r.stderr).toBe(0);
    expect(show(who, unit, ['LoadState']).LoadState).toBe('not-found');
    expect(existsSync(join(stateRoot(who), id))).toBe(false);
  });

  it.skipIf(rootSkip)('root falls back to systemd\'s private socket when the system bus does not answer', () => {
    const who = runAs('root')!;
    const id = `sd-priv-${process.pid}`;
    const bundle = makeBundle(who, { args: ['/bin/true'], edit: (s) => void (s.linux!.resources = { pids: { limit: 9 } }) });
    const r = spawnSync(launchWords()[0]!, [...launchWords().slice(1), '--root', stateRoot(who), '--systemd-cgroup', '--debug', 'run', '--bundle', bundle, id], {
      ...spawnOptions(who, { env: { DBUS_SYSTEM_BUS_ADDRESS: 'unix:path=/nonexistent/bus' } }),
      encoding: 'utf8',
    });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/launch: debug: --systemd-cgroup: the system instance of systemd \(private socket\), systemd \d+, unit launch-sd-priv-\d+\.scope in system\.slice/);
    expect(show(who, `launch-${id}.scope`, ['LoadState']).LoadState).toBe('not-found');
  });

  it.skipIf(rootSkip)('a limit the kernel refuses after the unit exists: one error line, the unit is stopped', () => {
    const who = runAs('root')!;
    const id = `sd-bad-${process.pid}`;
    // systemd has no property for memory.oom.group=7 (OOMPolicy knows 0 and 1), so it reaches
    // cgroupfs after the scope was created, and the kernel takes only 0 or 1.
    const bundle = makeBundle(who, { args: ['/bin/true'], edit: (s) => void (s.linux!.resources = { unified: { 'memory.oom.group': '7' } }) });
    const r = launchSync(who, ['--systemd-cgroup', 'run', '--bundle', bundle, id]);
    expect(r.status).toBe(125);
    expect(r.stderr).toBe(`launch: run ${id}: linux.resources.unified["memory.oom.group"]: cannot write \`7\` to \`/sys/fs/cgroup/system.slice/launch-${id}.scope/memory.oom.group\`: Invalid argument (EINVAL)\n`);
    expect(show(who, `launch-${id}.scope`, ['LoadState']).LoadState).toBe('not-found');
    expect(existsSync(join(stateRoot(who), id))).toBe(false);
  });
});

// Everywhere else: one clear line naming the flag, exit 125, nothing left behind.
const refuseSkip = systemdIsInit() || existsSync('/run/systemd/system') ? 'systemd runs here' : missing('busybox', 'dist');
describe(refuseSkip ? `--systemd-cgroup without systemd (skipped: ${refuseSkip})` : '--systemd-cgroup without systemd', () => {
  it.skipIf(refuseSkip)('fails in one line that names --systemd-cgroup', () => {
    const who = runAs('root') ?? runAs('rootless')!;
    const bundle = makeBundle(who, { args: ['/bin/true'] });
    const id = `sd-none-${process.pid}`;
    const r = launchSync(who, ['--systemd-cgroup', 'run', '--bundle', bundle, id]);
    expect(r.status).toBe(125);
    expect(r.stderr).toBe(`launch: run ${id}: --systemd-cgroup: systemd is not running on this host (no /run/systemd/system); run without --systemd-cgroup to use the cgroupfs driver\n`);
    expect(existsSync(join(stateRoot(who), id))).toBe(false);
  });
});
