// Docker's default seccomp profile as `launch spec` writes it: resolved for the default
// capabilities and an architecture, valid for launch's own schema, and judged by what it lets a
// container do. `decide` below evaluates the rules the way a filter does (first rule naming the
// call whose argument conditions hold; otherwise the default action), so the tests state
// behaviour ("clone with CLONE_NEWUSER is refused") rather than the shape of the rule list.
//
// Each test was seen failing against a deliberately broken profile or generator, then restored:
// `mount` added to the allow list; `close_range` removed from it; the clone mask changed to
// 0x7c020000; SCMP_ARCH_X32 dropped from x86_64's family; 40 (AF_VSOCK) added to the socket
// domains; CAP_MKNOD dropped from the default caps; `ambient` put back into the default process;
// the socket and personality rules given argument index 6 (the schema refuses it); rules with a
// minimum kernel kept when no kernel is given; the CAP_SYS_ADMIN rules made unconditional;
// `excludes` caps ignored; EPERM changed to 13; demoSpec's seccomp moved after the masks; the
// rules returned without copying.
import { describe, expect, it } from 'vitest';
import { parseSpec } from '../../lib/spec/load.js';
import { DEFAULT_CAPS, defaultSpec, demoSpec, OCI_VERSION, SECCOMP_KERNEL } from '../../lib/spec/generate.js';
import { CLONE_NAMESPACE_FLAGS, defaultSeccomp } from '../../lib/spec/seccomp-default.js';
import type { Seccomp } from '../../lib/spec/schema.js';

const DOCKER_CAPS = [
  'CAP_AUDIT_WRITE', 'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_MKNOD',
  'CAP_NET_BIND_SERVICE', 'CAP_NET_RAW', 'CAP_SETFCAP', 'CAP_SETGID', 'CAP_SETPCAP', 'CAP_SETUID', 'CAP_SYS_CHROOT',
];
// <linux/sched.h>, written out here rather than taken from the module under test.
const CLONE = {
  NEWNS: 0x20000, NEWCGROUP: 0x2000000, NEWUTS: 0x4000000, NEWIPC: 0x8000000, NEWUSER: 0x10000000,
  NEWPID: 0x20000000, NEWNET: 0x40000000, VM: 0x100, FS: 0x200, FILES: 0x400, SIGHAND: 0x800,
  THREAD: 0x10000, SYSVSEM: 0x40000, SETTLS: 0x80000, PARENT_SETTID: 0x100000, CHILD_CLEARTID: 0x200000,
};
const SIGCHLD = 17;
const AF = { UNIX: 1, INET: 2, INET6: 10, NETLINK: 16, PACKET: 17, ALG: 38, VSOCK: 40, XDP: 44 };

const profile = (arch = 'x64', caps: readonly string[] = DEFAULT_CAPS, kernel?: string) => defaultSeccomp({ caps, arch, kernel });

type Decision = { action: string; errno?: number };
/** What the filter does with `name(args...)`. */
function decide(p: Seccomp, name: string, args: number[] = []): Decision {
  for (const rule of p.syscalls ?? []) {
    if (!rule.names.includes(name)) continue;
    const holds = (rule.args ?? []).every((a) => {
      const v = args[a.index] ?? 0;
      switch (a.op) {
        case 'SCMP_CMP_EQ': return v === a.value;
        case 'SCMP_CMP_NE': return v !== a.value;
        case 'SCMP_CMP_LT': return v < a.value;
        case 'SCMP_CMP_LE': return v <= a.value;
        case 'SCMP_CMP_GT': return v > a.value;
        case 'SCMP_CMP_GE': return v >= a.value;
        case 'SCMP_CMP_MASKED_EQ': return (Number(BigInt(v) & BigInt(a.value))) === (a.valueTwo ?? 0);
      }
      return false;
    });
    if (holds) return { action: rule.action, ...(rule.errnoRet !== undefined ? { errno: rule.errnoRet } : {}) };
  }
  return { action: p.defaultAction, errno: p.defaultErrnoRet };
}
const ALLOW: Decision = { action: 'SCMP_ACT_ALLOW' };
const EPERM: Decision = { action: 'SCMP_ACT_ERRNO', errno: 1 };
const allowRules = (p: Seccomp) => (p.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW');

describe('defaultSeccomp', () => {
  it('passes the config schema, for every architecture and with every conditional capability', () => {
    const everyCap = [...DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_DAC_READ_SEARCH', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_BPF'];
    for (const arch of ['x64', 'arm64', 'arm', 'ia32', 's390x', 'ppc64', 'riscv64', 'loong64']) {
      for (const caps of [DEFAULT_CAPS, everyCap]) {
        const doc = { ociVersion: OCI_VERSION, root: { path: 'rootfs' }, linux: { seccomp: profile(arch, caps, '6.1') } };
        expect(parseSpec(JSON.parse(JSON.stringify(doc)), 'config.json')).toEqual(doc);
      }
    }
  });

  it('refuses with EPERM by default', () => {
    const p = profile();
    expect([p.defaultAction, p.defaultErrnoRet]).toEqual(['SCMP_ACT_ERRNO', 1]);
    expect(decide(p, 'no_such_syscall')).toEqual(EPERM);
  });

  // Without CAP_SYS_ADMIN, CAP_SYS_PTRACE, CAP_SYS_BOOT, CAP_SYS_MODULE, CAP_DAC_READ_SEARCH...
  it.each(['x64', 'arm64'])('blocks what a container must not do, on %s', (arch) => {
    const p = profile(arch);
    const blocked = [
      'mount', 'umount', 'umount2', 'unshare', 'setns', 'keyctl', 'add_key', 'request_key', 'ptrace', 'process_vm_readv',
      'process_vm_writev', 'bpf', 'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'reboot',
      'swapon', 'swapoff', 'pivot_root', 'open_by_handle_at', 'userfaultfd', 'perf_event_open', 'fsopen', 'fsmount',
      'move_mount', 'open_tree', 'sethostname', 'setdomainname', 'syslog', 'acct', 'settimeofday', 'clock_settime',
      'iopl', 'ioperm', 'lookup_dcookie', 'quotactl', 'vhangup', 'kcmp', 'pidfd_getfd', 'mbind', 'set_mempolicy',
      'io_uring_setup', 'nfsservctl', 'uselib', '_sysctl',
    ];
    for (const name of blocked) {
      // Not named by any allow rule, with or without argument conditions.
      expect(allowRules(p).filter((r) => r.names.includes(name)), name).toEqual([]);
      expect(decide(p, name), name).toEqual(EPERM);
    }
  });

  it('allows what programs and the runtime\'s last steps before execve need', () => {
    const p = profile('x64');
    const needed = [
      // The runtime after the filter is in place: drop to the user, close fds, exec.
      'setresuid', 'setresgid', 'setgroups', 'capset', 'capget', 'prctl', 'close', 'close_range', 'execve', 'execveat',
      'rt_sigprocmask', 'rt_sigaction', 'write', 'read', 'openat', 'fcntl', 'dup3', 'chdir', 'fchdir', 'umask', 'setsid', 'exit_group',
      // A shell, coreutils, a static or dynamic C program.
      'brk', 'mmap', 'mprotect', 'munmap', 'arch_prctl', 'set_tid_address', 'set_robust_list', 'rseq', 'futex', 'getrandom',
      'newfstatat', 'fstat', 'statx', 'getdents64', 'lseek', 'ioctl', 'pipe2', 'wait4', 'vfork', 'fork', 'kill', 'getpid',
      'getppid', 'getuid', 'geteuid', 'uname', 'getcwd', 'readlink', 'unlinkat', 'mkdirat', 'renameat2', 'fchownat',
      'fchmodat', 'utimensat', 'nanosleep', 'clock_nanosleep', 'clock_gettime', 'poll', 'pselect6', 'prlimit64',
      'sched_getaffinity', 'sysinfo', 'connect', 'sendto', 'recvfrom', 'rt_sigreturn',
      // CAP_SYS_CHROOT is one of Docker's capabilities.
      'chroot',
    ];
    for (const name of needed) {
      expect(allowRules(p).some((r) => r.names.includes(name) && r.args === undefined), name).toBe(true);
    }
  });

  it('clone: threads and processes, no namespaces without CAP_SYS_ADMIN; clone3 falls back', () => {
    const mask = CLONE.NEWNS | CLONE.NEWCGROUP | CLONE.NEWUTS | CLONE.NEWIPC | CLONE.NEWUSER | CLONE.NEWPID | CLONE.NEWNET;
    expect(CLONE_NAMESPACE_FLAGS).toBe(mask);
    const p = profile('x64');
    expect(p.syscalls!.filter((r) => r.names.includes('clone'))).toEqual([
      { names: ['clone'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: mask, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
    ]);
    const thread = CLONE.VM | CLONE.FS | CLONE.FILES | CLONE.SIGHAND | CLONE.THREAD | CLONE.SYSVSEM | CLONE.SETTLS | CLONE.PARENT_SETTID | CLONE.CHILD_CLEARTID;
    expect(decide(p, 'clone', [SIGCHLD])).toEqual(ALLOW);
    expect(decide(p, 'clone', [thread])).toEqual(ALLOW);
    for (const ns of [CLONE.NEWUSER, CLONE.NEWNS, CLONE.NEWPID, CLONE.NEWNET, CLONE.NEWCGROUP, CLONE.NEWUTS, CLONE.NEWIPC]) {
      expect(decide(p, 'clone', [ns | SIGCHLD])).toEqual(EPERM);
    }
    // ENOSYS, not EPERM: glibc and musl then retry with clone, which the filter can inspect.
    expect(decide(p, 'clone3')).toEqual({ action: 'SCMP_ACT_ERRNO', errno: 38 });
    // s390 passes the flags second.
    expect(decide(profile('s390x'), 'clone', [0, CLONE.NEWUSER])).toEqual(EPERM);
    expect(decide(profile('s390x'), 'clone', [CLONE.NEWUSER, SIGCHLD])).toEqual(ALLOW);
  });

  it('follows the capabilities it is given, as dockerd does', () => {
    const admin = profile('x64', [...DEFAULT_CAPS, 'CAP_SYS_ADMIN']);
    for (const name of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'bpf']) expect(decide(admin, name, [CLONE.NEWUSER]), name).toEqual(ALLOW);
    expect(admin.syscalls!.some((r) => r.args?.[0]?.op === 'SCMP_CMP_MASKED_EQ')).toBe(false);
    expect(decide(profile('x64', [...DEFAULT_CAPS, 'CAP_SYS_PTRACE']), 'ptrace')).toEqual(ALLOW);
    expect(decide(profile('x64', [...DEFAULT_CAPS, 'CAP_SYS_BOOT']), 'reboot')).toEqual(ALLOW);
    expect(decide(profile('x64', [...DEFAULT_CAPS, 'CAP_DAC_READ_SEARCH']), 'open_by_handle_at')).toEqual(ALLOW);
    expect(decide(profile('x64', ['CAP_KILL']), 'chroot')).toEqual(EPERM);
  });

  it('leaves kernel-gated rules out unless told the kernel', () => {
    expect(decide(profile('x64'), 'ptrace')).toEqual(EPERM);
    expect(decide(profile('x64', DEFAULT_CAPS, '4.7'), 'ptrace')).toEqual(EPERM);
    expect(decide(profile('x64', DEFAULT_CAPS, '4.8'), 'ptrace')).toEqual(ALLOW);
    expect(decide(profile('x64', DEFAULT_CAPS, '6.1.0-13-amd64'), 'process_vm_readv')).toEqual(ALLOW);
  });

  it('socket: the usual domains, not AF_VSOCK or AF_ALG', () => {
    const p = profile('x64');
    for (const d of [AF.UNIX, AF.INET, AF.INET6, AF.NETLINK, AF.PACKET, AF.XDP]) expect(decide(p, 'socket', [d]), String(d)).toEqual(ALLOW);
    for (const d of [AF.VSOCK, AF.ALG, 12, 46, 1000]) expect(decide(p, 'socket', [d]), String(d)).toEqual(EPERM);
    expect(decide(p, 'socketpair', [AF.UNIX])).toEqual(ALLOW);
  });

  it('personality: the Linux personas and the query, nothing that weakens mitigations', () => {
    const p = profile('x64');
    for (const v of [0, 0x8, 0x20000, 0x20008, 0xffffffff]) expect(decide(p, 'personality', [v])).toEqual(ALLOW);
    // ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC
    for (const v of [0x40000, 0x400000]) expect(decide(p, 'personality', [v])).toEqual(EPERM);
  });

  it('architectures follow process.arch, with moby\'s compat ABIs', () => {
    expect(defaultSeccomp({ caps: DEFAULT_CAPS })).toEqual(profile(process.arch));
    const archs = (arch: string) => profile(arch).architectures;
    expect(archs('x64')).toEqual(['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    expect(archs('arm64')).toEqual(['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM']);
    expect(archs('s390x')).toEqual(['SCMP_ARCH_S390X', 'SCMP_ARCH_S390']);
    expect(archs('riscv64')).toEqual(['SCMP_ARCH_RISCV64']);
    expect(archs('loong64')).toEqual(['SCMP_ARCH_LOONGARCH64']);
    // No family in moby's archMap: the runtime filters the native ABI only.
    for (const arch of ['ia32', 'arm', 'ppc64']) expect(archs(arch), arch).toBeUndefined();
    // Architecture-only syscalls.
    expect(decide(profile('x64'), 'arch_prctl')).toEqual(ALLOW);
    expect(decide(profile('arm64'), 'arch_prctl')).toEqual(EPERM);
    expect(decide(profile('arm64'), 'set_tls')).toEqual(ALLOW);
    expect(decide(profile('x64'), 'set_tls')).toEqual(EPERM);
    expect(decide(profile('ppc64'), 'swapcontext')).toEqual(ALLOW);
    expect(decide(profile('ia32'), 'modify_ldt')).toEqual(ALLOW);
    expect(decide(profile('riscv64'), 'riscv_flush_icache')).toEqual(ALLOW);
  });

  it('returns a fresh object each time', () => {
    const a = profile();
    a.syscalls![0]!.names.push('mount');
    expect(decide(profile(), 'mount')).toEqual(EPERM);
  });
});

describe('the default confinement of launch spec and demoSpec', () => {
  const demo = (rootless: boolean) => demoSpec({ rootless, uid: 1000, gid: 1000, args: ['/bin/true'], hostname: 'd', exists: () => true });
  const specs = [
    ['defaultSpec', defaultSpec({ rootless: false })],
    ['defaultSpec rootless', defaultSpec({ rootless: true, uid: 1000, gid: 1000 })],
    ['demoSpec', demo(false)],
    ['demoSpec rootless', demo(true)],
  ] as const;

  it.each(specs)('%s: Docker\'s 14 capabilities, bounding, effective and permitted only', (_, spec) => {
    expect([...DEFAULT_CAPS].sort()).toEqual(DOCKER_CAPS);
    expect(spec.process!.capabilities).toEqual({ bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS });
  });

  it.each(specs)('%s: the default profile for those capabilities, where runc and podman put it', (_, spec) => {
    expect(spec.linux!.seccomp).toEqual(defaultSeccomp({ caps: DEFAULT_CAPS, kernel: SECCOMP_KERNEL }));
    // Resolved for launch's minimum kernel: ptrace as under dockerd, mount still not.
    expect(decide(spec.linux!.seccomp!, 'ptrace')).toEqual(ALLOW);
    expect(decide(spec.linux!.seccomp!, 'mount')).toEqual(EPERM);
    // runtime-spec's Go struct order (namespaces, devices, seccomp, rootfsPropagation, maskedPaths...).
    const keys = Object.keys(spec.linux!);
    expect(keys.indexOf('seccomp')).toBe(keys.indexOf('namespaces') + 1);
    expect(keys.at(-3)).toBe('seccomp');
  });
});
