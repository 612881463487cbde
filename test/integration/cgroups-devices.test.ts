// linux.resources.devices on cgroup v2: an eBPF program attached to the container's cgroup.
// The addon's part runs wherever root has a cgroup2 hierarchy (this host's hybrid
// /sys/fs/cgroup/unified too: device programs apply on hybrid hosts as well); whole containers
// need a v2-only host (the test/vm guest; see test/vm/README.md).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { deviceFilterProgram } from '../../lib/cgroups/devicefilter.js';
import { attachDeviceFilter } from '../../lib/cgroups/manager.js';
import { native } from '../../lib/runtime/native.js';
import { cleanupBase, makeBundle } from '../helpers/bundle.js';
import { cleanupDelegated, missing, runAs } from '../helpers/env.js';
import { exitOf, launchChild, launchSync, runBundle, waitFor } from '../helpers/launch.js';
import { thrown } from '../helpers/thrown.js';

afterAll(() => {
  cleanupDelegated();
  cleanupBase();
});

const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
/** Where a cgroup2 hierarchy is mounted, if anywhere. */
function cgroup2Mount(): string | undefined {
  for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (post?.startsWith('cgroup2 ')) return pre!.split(' ')[4];
  }
  return undefined;
}
// Opens /dev/null and /dev/kmsg for writing (the open is what the filter sees; a read open of
// kmsg could fail on its own, without CAP_SYSLOG, with the same EPERM).
const PROBE = 'echo x > /dev/null && echo null-ok; (: > /dev/kmsg) 2>&1 | grep -o "Operation not permitted" || echo kmsg-ok';

const nativeSkip = missing('root', 'addon') ?? (cgroup2Mount() ? undefined : 'needs a cgroup2 hierarchy');
describe(nativeSkip ? `device filter in the kernel (skipped: ${nativeSkip})` : 'device filter in the kernel', () => {
  const dir = join(cgroup2Mount() ?? '/nonexistent', `launch-devtest-${process.pid}`);
  afterAll(() => {
    try {
      rmdirSync(dir);
    } catch {
      /* not made */
    }
  });
  /** PROBE's output from a shell that moved itself into `dir` first. */
  const probe = () => {
    const r = spawnSync('/bin/sh', ['-c', `echo $$ > ${dir}/cgroup.procs && ${PROBE}`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    return r.stdout;
  };

  it.skipIf(nativeSkip)('loads, attaches, and replaces (the old filter is gone afterwards)', () => {
    mkdirSync(dir);
    expect(probe()).toBe('null-ok\nkmsg-ok\n');
    attachDeviceFilter(dir, deviceFilterProgram([{ allow: false, access: 'rwm' }]));
    expect(probe()).toBe('null-ok\nOperation not permitted\n');
    // With the deny-all program still attached, c 1:11 would stay denied.
    attachDeviceFilter(dir, deviceFilterProgram([{ allow: true, access: 'rwm' }]));
    expect(probe()).toBe('null-ok\nkmsg-ok\n');
    attachDeviceFilter(dir, deviceFilterProgram([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }]));
    expect(probe()).toBe('null-ok\nkmsg-ok\n');
  });

  it.skipIf(nativeSkip)('reports a verifier refusal with its log, and a missing cgroup', () => {
    // r0 = *(u32 *)(r1 + 12): past the end of bpf_cgroup_dev_ctx; exit.
    const bad = Buffer.from([0x61, 0x10, 12, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    let err: (Error & { errno?: number; syscall?: string; log?: string }) | undefined;
    try {
      native().attachDeviceFilter(cgroup2Mount()!, bad);
    } catch (e) {
      err = e as typeof err;
    }
    expect(err?.syscall).toBe('bpf(BPF_PROG_LOAD)');
    expect(err?.log).toMatch(/invalid bpf_context access/);
    const e = thrown(() => attachDeviceFilter(join(dir, 'missing'), deviceFilterProgram([])), 'host');
    expect([e.configPath, e.file, e.syscall, e.errno]).toEqual(['linux.resources.devices', join(dir, 'missing'), 'open', 2]);
  });
});

const skip = missing('root', 'busybox', 'dist', 'addon') ?? (v2 ? undefined : 'needs a cgroup v2 host (run it in test/vm)');
describe(skip ? `device rules on cgroup v2 (skipped: ${skip})` : 'device rules on cgroup v2', () => {
  it.skipIf(skip)('denies a device the rules leave out, keeps runc\'s defaults', () => {
    const who = runAs('root')!;
    const bundle = (devices: { allow: boolean; type?: 'c'; major?: number; minor?: number; access: string }[]) =>
      makeBundle(who, {
        args: ['/bin/sh', '-c', PROBE],
        edit: (s) => {
          // /dev/kmsg is created (linux.devices) but not allowed by resources.devices.
          s.linux!.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }];
          s.linux!.resources = { devices };
        },
      });
    const denied = runBundle(who, bundle([{ allow: false, access: 'rwm' }]));
    expect([denied.stdout, denied.stderr, denied.status]).toEqual(['null-ok\nOperation not permitted\n', '', 0]);
    const allowed = runBundle(who, bundle([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }]));
    expect([allowed.stdout, allowed.status]).toEqual(['null-ok\nkmsg-ok\n', 0]);
  });

  it.skipIf(skip)('update --resources replaces the filter of a running container', async () => {
    const who = runAs('root')!;
    const id = `devupd-${process.pid}`;
    const bundle = makeBundle(who, {
      args: ['/bin/sh', '-c', `echo ready; read x; ${PROBE}`],
      edit: (s) => {
        s.linux!.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }];
        s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] };
      },
    });
    const child = launchChild(who, ['run', '--bundle', bundle, id]);
    await waitFor(child.stdout!, 'ready');
    const upd = launchSync(who, ['update', '--resources', '-', id], {
      input: JSON.stringify({ devices: [{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'w' }] }),
    });
    expect([upd.stderr, upd.status]).toEqual(['', 0]);
    const out = waitFor(child.stdout!, 'kmsg-ok');
    child.stdin!.end('go\n');
    await out;
    expect((await exitOf(child)).code).toBe(0);
  });

  it.skipIf(skip)('refuses a hole punched in a wildcard, before running anything', () => {
    const who = runAs('root')!;
    const r = runBundle(who, makeBundle(who, {
      args: ['/bin/true'],
      edit: (s) => void (s.linux!.resources = { devices: [{ allow: true, type: 'c', access: 'rwm' }, { allow: false, type: 'c', major: 1, minor: 11, access: 'rwm' }] }),
    }));
    expect(r.stderr.trimEnd()).toMatch(/^launch: run \S+: linux\.resources\.devices\[1\]: cannot deny c 1:11 after `allow c \*:\*`/);
    expect(r.status).toBe(125);
  });
});

const dSkip = missing('delegated', 'busybox', 'dist', 'addon') ?? (v2 ? undefined : 'needs a cgroup v2 host (run it in test/vm)');
describe(dSkip ? `device rules rootless (skipped: ${dSkip})` : 'device rules rootless', () => {
  it.skipIf(dSkip)('runs without the filter in a delegated cgroup, saying so with --debug (as runc)', () => {
    const who = runAs('delegated')!;
    const bundle = makeBundle(who, { args: ['/bin/true'], edit: (s) => void (s.linux!.resources = { devices: [{ allow: false, access: 'rwm' }] }) });
    const r = launchSync(who, ['--debug', 'run', '--bundle', bundle, `dev-${process.pid}`]);
    expect(r.stderr).toContain('linux.resources.devices as an eBPF filter (it needs root; rootless, only the device nodes the rules allow are bound in)');
    expect(r.status).toBe(0);
  });
});

const rSkip = missing('rootless', 'busybox', 'dist', 'addon');
describe(rSkip ? `device rules without a device cgroup (skipped: ${rSkip})` : 'device rules without a device cgroup (rootless)', () => {
  it.skipIf(rSkip)('binds only the device nodes the rules allow, read-only when they allow only reading', () => {
    const who = runAs('rootless')!;
    const probe = 'echo x > /dev/null && echo null-ok; if [ -e /dev/kmsg ]; then grep " /dev/kmsg " /proc/self/mountinfo | grep -o " ro[, ]" | tr -d " ,"; else echo kmsg-absent; fi';
    const bundle = (devices: { allow: boolean; type?: 'c'; major?: number; minor?: number; access: string }[]) =>
      makeBundle(who, {
        args: ['/bin/sh', '-c', probe],
        edit: (s) => {
          s.linux!.devices = [{ path: '/dev/kmsg', type: 'c', major: 1, minor: 11 }];
          s.linux!.resources = { devices };
        },
      });
    const denied = runBundle(who, bundle([{ allow: false, access: 'rwm' }]));
    expect([denied.stdout, denied.stderr, denied.status]).toEqual(['null-ok\nkmsg-absent\n', '', 0]);
    const readable = runBundle(who, bundle([{ allow: false, access: 'rwm' }, { allow: true, type: 'c', major: 1, minor: 11, access: 'r' }]));
    expect([readable.stdout, readable.status]).toEqual(['null-ok\nro\n', 0]);
  });
});
