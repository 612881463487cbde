// linux.seccomp end to end, as root and rootless: a static probe (test/fixtures/seccomp/probe.c)
// makes syscalls inside the container and prints what each returned; a notify agent
// (agent.c) answers on the host. Every test that expects a denial has a control beside it
// that runs the same probe without the filter (or with the protection removed) and sees the
// call succeed, so a launch that silently ignored linux.seccomp fails here.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Seccomp, Spec } from '../../lib/spec/schema.js';
import { busyboxRootfs, cleanupBase, cleanupTestCgroups, makeBundle, ownedDir, testBase } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { detachedVerb, launchSync, runBundle, waitFor } from '../helpers/launch.js';

const FIXTURES = new URL('../fixtures/seccomp/', import.meta.url).pathname;

/** Compile the probe (static: the busybox rootfs has no libc) and the agent once per file. */
function build(): { probe: string; agent: string } | string {
  const dir = join(testBase(), 'seccomp-bin');
  try {
    execFileSync('mkdir', ['-p', dir]);
    execFileSync('cc', ['-static', '-O2', '-o', join(dir, 'probe'), join(FIXTURES, 'probe.c')], { stdio: 'pipe' });
    execFileSync('cc', ['-O2', '-o', join(dir, 'agent'), join(FIXTURES, 'agent.c')], { stdio: 'pipe' });
  } catch (err) {
    return `needs a C compiler with a static libc (apt-get install gcc libc6-dev): ${(err as Error).message.split('\n')[0]}`;
  }
  return { probe: join(dir, 'probe'), agent: join(dir, 'agent') };
}
const built = build();
const noCompiler = typeof built === 'string' ? built : undefined;

afterAll(() => {
  cleanupBase();
  cleanupTestCgroups();
});

const deny = (names: string[], action: Seccomp['defaultAction'] = 'SCMP_ACT_ERRNO', extra: Partial<Seccomp> = {}): Seccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [{ names, action, ...(action === 'SCMP_ACT_ERRNO' ? { errnoRet: 1 } : {}) }],
  ...extra,
});

eachMode('seccomp', ['busybox', 'dist', 'addon'], (mode, modeSkip) => {
  const skip = modeSkip ?? noCompiler;
  const who = () => runAs(mode)!;
  /** A bundle running the probe with `calls`, the rootfs made writable for mkdir in /tmp. */
  const probeBundle = (calls: string[], edit?: (s: Spec) => void) => {
    const probe = join(busyboxRootfs(who()), 'bin/probe');
    if (!existsSync(probe)) {
      copyFileSync((built as { probe: string }).probe, probe);
      if (who().uid !== 0) execFileSync('chown', [`${who().uid}:${who().gid}`, probe]);
    }
    return makeBundle(who(), {
      args: ['/bin/probe', ...calls],
      edit: (s) => {
        s.mounts!.push({ destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev'] });
        delete s.linux!.seccomp;
        edit?.(s);
      },
    });
  };

  it.skipIf(skip)('a profile that denies mkdir with EPERM fails mkdir with "Operation not permitted" and nothing else', () => {
    const control = runBundle(who(), probeBundle(['mkdir', 'getppid']));
    expect(control.stdout).toBe('mkdir: ok\ngetppid: ok\n');
    for (const nnp of [true, false]) {
      // no_new_privs decides where the filter loads (before or after the capabilities go).
      const r = runBundle(who(), probeBundle(['mkdir', 'getppid'], (s) => {
        s.linux!.seccomp = deny(['mkdir', 'mkdirat']);
        s.process!.noNewPrivileges = nnp;
      }));
      expect({ nnp, stderr: r.stderr, stdout: r.stdout, status: r.status }).toEqual({ nnp, stderr: '', stdout: 'mkdir: Operation not permitted\ngetppid: ok\n', status: 0 });
    }
  });

  it.skipIf(skip)('SCMP_ACT_KILL_PROCESS kills the process with SIGSYS', () => {
    const r = runBundle(who(), probeBundle(['mkdir', 'getppid', 'mkdir'], (s) => void (s.linux!.seccomp = deny(['getppid'], 'SCMP_ACT_KILL_PROCESS'))));
    expect(r.stdout).toBe('mkdir: ok\n');
    expect(r.status).toBe(128 + 31);
  });

  it.skipIf(skip)('TRAP sends SIGSYS, LOG allows, TRACE without a tracer fails the call with ENOSYS; the filter flags load', () => {
    const one = (action: Seccomp['defaultAction'], flags?: string[]) =>
      runBundle(who(), probeBundle(['getppid', 'mkdir'], (s) => void (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', flags, syscalls: [{ names: ['getppid'], action }] })));
    const trap = one('SCMP_ACT_TRAP');
    expect([trap.stdout, trap.status]).toEqual(['', 128 + 31]);
    expect(one('SCMP_ACT_LOG', ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW']).stdout).toBe('getppid: ok\nmkdir: ok\n');
    expect(one('SCMP_ACT_TRACE').stdout).toBe('getppid: Function not implemented\nmkdir: ok\n');
  });

  it.skipIf(skip)('names unknown to libseccomp are skipped, as runc does; defaultErrnoRet is the default errno', () => {
    const r = runBundle(who(), probeBundle(['mkdir', 'getppid'], (s) => {
      s.linux!.seccomp = {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 38, // ENOSYS
        syscalls: [{ names: ['no_such_syscall_here'], action: 'SCMP_ACT_ALLOW' }, { names: ALLOW_ALL_BUT_MKDIR, action: 'SCMP_ACT_ALLOW' }],
      };
    }));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('mkdir: Function not implemented\ngetppid: ok\n');
  });

  it.skipIf(skip)('SCMP_ACT_NOTIFY hands the listener fd and the container state to linux.seccomp.listenerPath', async () => {
    const dir = ownedDir(who(), 'agent');
    const sock = join(dir, 'agent.sock');
    const out = join(dir, 'agent.out');
    const agent: ChildProcess = spawn((built as { agent: string }).agent, [sock, out], { stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await waitFor(agent.stdout!, 'listening');
      const id = `notify-${mode}-${process.pid}`;
      const r = runBundle(who(), probeBundle(['mkdir', 'getppid'], (s) => {
        s.linux!.seccomp = deny(['mkdir', 'mkdirat'], 'SCMP_ACT_NOTIFY', { listenerPath: sock, listenerMetadata: 'test-meta' });
      }), { id });
      // The agent answers EXDEV, which mkdir of /tmp/x never gives by itself.
      expect(r.stdout).toBe('mkdir: Invalid cross-device link\ngetppid: ok\n');
      await new Promise((resolve) => agent.once('exit', resolve));
      const [state, ...calls] = readFileSync(out, 'utf8').trim().split('\n');
      const msg = JSON.parse(state!);
      expect(msg).toMatchObject({ fds: ['seccompFd'], metadata: 'test-meta', state: { id, status: 'creating' } });
      expect(msg.pid).toBe(msg.state.pid);
      expect(calls).toEqual(['syscall 83']); // mkdir on x86_64
    } finally {
      agent.kill();
    }
  });

  it.skipIf(skip)('the default profile of `launch spec` blocks unshare, keyctl and mount, even with CAP_SYS_ADMIN', () => {
    const specDir = mkdtempSync(join(testBase(), 'spec-'));
    const r0 = launchSync(runAs('root') ?? who(), ['spec', ...(mode === 'rootless' ? ['--rootless'] : [])], { cwd: specDir });
    expect(r0.status).toBe(0);
    const profile = (JSON.parse(readFileSync(join(specDir, 'config.json'), 'utf8')) as Spec).linux?.seccomp;
    rmSync(specDir, { recursive: true });
    expect(profile).toBeDefined();
    // CAP_SYS_ADMIN makes mount and unshare possible as far as capabilities go: what still
    // refuses them is the filter (the control shows they succeed without it).
    const admin = (s: Spec) => {
      for (const set of ['bounding', 'effective', 'permitted'] as const) s.process!.capabilities![set] = [...(s.process!.capabilities![set] ?? []), 'CAP_SYS_ADMIN'];
    };
    // unshare last: in its new user namespace the process could not mount any more.
    const calls = ['mount', 'keyctl', 'unshare', 'mkdir'];
    const control = runBundle(who(), probeBundle(calls, admin));
    expect(control.stdout).toBe('mount: ok\nkeyctl: ok\nunshare: ok\nmkdir: ok\n');
    const r = runBundle(who(), probeBundle(calls, (s) => {
      admin(s);
      s.linux!.seccomp = profile;
    }));
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('mount: Operation not permitted\nkeyctl: Operation not permitted\nunshare: Operation not permitted\nmkdir: ok\n');
  });

  it.skipIf(skip)('argument conditions: every operator decides on the value it sees', () => {
    // personality(0xffffffff) queries the persona: a harmless call whose argument we choose.
    const cases: [NonNullable<Seccomp['syscalls']>[number]['args'], boolean][] = [
      [[{ index: 0, op: 'SCMP_CMP_EQ', value: 0xffffffff }], true],
      [[{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }], false],
      [[{ index: 0, op: 'SCMP_CMP_NE', value: 8 }], true],
      [[{ index: 0, op: 'SCMP_CMP_GT', value: 0x1000 }], true],
      [[{ index: 0, op: 'SCMP_CMP_LT', value: 0x1000 }], false],
      [[{ index: 0, op: 'SCMP_CMP_GE', value: 0xffffffff }], true],
      [[{ index: 0, op: 'SCMP_CMP_LE', value: 0xfffffffe }], false],
      [[{ index: 0, op: 'SCMP_CMP_MASKED_EQ', value: 0xff00, valueTwo: 0xff00 }], true],
      // One argument named twice: either condition denies (runc's rule splitting).
      [[{ index: 0, op: 'SCMP_CMP_EQ', value: 8 }, { index: 0, op: 'SCMP_CMP_EQ', value: 0xffffffff }], true],
    ];
    const got = cases.map(([args]) =>
      runBundle(who(), probeBundle(['personality'], (s) => void (s.linux!.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['personality'], action: 'SCMP_ACT_ERRNO', args }] }))).stdout,
    );
    expect(got).toEqual(cases.map(([, denied]) => (denied ? 'personality: Operation not permitted\n' : 'personality: ok\n')));
  });

  it.skipIf(skip)('capability sets, no_new_privs and seccomp mode of the container\'s init (/proc/1/status) are the config\'s', () => {
    const bundle = makeBundle(who(), {
      args: ['/bin/cat', '/proc/1/status'],
      edit: (s) => {
        const three = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_RAW'];
        s.process!.capabilities = { bounding: three, effective: three, permitted: three, inheritable: ['CAP_KILL'], ambient: ['CAP_KILL'] };
        s.process!.noNewPrivileges = true;
      },
    });
    const r = runBundle(who(), bundle);
    const status = Object.fromEntries(r.stdout.split('\n').map((l) => l.split(/:\s*/) as [string, string]));
    const mask = (...bits: number[]) => bits.reduce((m, b) => m | (1n << BigInt(b)), 0n).toString(16).padStart(16, '0');
    expect({ ...Object.fromEntries(['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb', 'NoNewPrivs', 'Seccomp'].map((k) => [k, status[k]])) }).toEqual({
      CapInh: mask(5), CapPrm: mask(0, 5, 13), CapEff: mask(0, 5, 13), CapBnd: mask(0, 5, 13), CapAmb: mask(5), NoNewPrivs: '1', Seccomp: '2',
    });
  });

  it.skipIf(skip)('`exec` confines its process with the container\'s filter', () => {
    const bundle = makeBundle(who(), { args: ['/bin/sleep', '30'], edit: (s) => void (s.linux!.seccomp = deny(['mkdir', 'mkdirat'])) });
    const id = `exec-${mode}-${process.pid}`;
    expect(detachedVerb(who(), ['run', '--detach', '--bundle', bundle, id]).status).toBe(0);
    try {
      const r = launchSync(who(), ['exec', id, '/bin/mkdir', '/run/x']);
      expect(r.stderr).toContain('Operation not permitted');
      expect(r.status).not.toBe(0);
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('an unknown architecture is refused with its config path, and nothing is left behind', () => {
    const id = `arch-${mode}-${process.pid}`;
    const r = runBundle(who(), probeBundle(['mkdir'], (s) => void (s.linux!.seccomp = deny(['mkdir'], 'SCMP_ACT_ERRNO', { architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_PDP11'] }))), { id });
    expect(r.status).toBe(125);
    expect(r.stderr).toMatch(/^launch: run arch-\S+: linux\.seccomp\.architectures\[1\]: architecture unknown to this libseccomp/);
    expect(launchSync(who(), ['state', id]).status).not.toBe(0);
  });
});

// Every syscall a static probe and busybox need, but not mkdir/mkdirat: with a default of
// ENOSYS this shows defaultErrnoRet at work.
const ALLOW_ALL_BUT_MKDIR = [
  'execve', 'brk', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'prlimit64', 'mprotect', 'readlink', 'getrandom',
  'uname', 'write', 'exit_group', 'exit', 'getppid', 'fstat', 'newfstatat', 'mmap', 'munmap', 'ioctl', 'rt_sigprocmask', 'rt_sigaction',
  'close', 'openat', 'read', 'fcntl', 'close_range', 'futex', 'getpid', 'lseek',
];
