// Docker's default seccomp profile (moby's profiles/seccomp, in the revision that allow-lists
// socket domains and knows the syscalls of Linux 6.13), kept as data, and resolved into the OCI
// `linux.seccomp` object for one capability set and one architecture.
//
// moby's profile is not an OCI object: its rules carry `includes`/`excludes` conditions on the
// container's bounding capabilities, the machine's architecture and a minimum kernel, which dockerd
// evaluates for each container. A config.json has no such conditions, so `launch spec` evaluates
// them here, once, for the config it writes, with moby's rules: an `includes` needs every one of
// its caps (and one of its arches); an `excludes` drops the rule on any one of them.
//
// What the profile is for: with CAP_SYS_ADMIN and friends dropped, the kernel already refuses most
// dangerous calls, but each reachable syscall is attack surface. The filter removes the calls no
// container needs (kexec_load, keyctl, add_key, bpf, userfaultfd, pivot_root...) and those whose
// namespace-creating or host-wide variants capabilities do not cover well (clone with CLONE_NEW*
// flags, unshare, mount, setns).
//
// The default is EPERM, not ENOSYS, as in moby: programs treat EPERM as "not allowed here". The one
// exception is clone3, whose flags live in memory the filter cannot read: ENOSYS makes glibc and
// musl fall back to clone, whose flags the filter can check.
import type { Seccomp } from './schema.js';

type Rule = NonNullable<Seccomp['syscalls']>[number];
type Arg = NonNullable<Rule['args']>[number];

const EPERM = 1;
const ENOSYS = 38;

// Allowed for every container, alphabetical (as moby, give or take the underscores). Names such as
// chown32, fcntl64 and the *_time64 family exist only on 32-bit ABIs (x86, arm), which x86_64 and
// aarch64 containers can also run. Names newer than the running kernel or libseccomp are
// harmless: the kernel has no such call, and runtimes skip names libseccomp does not know.
const ALLOWED = [
  'accept', 'accept4', 'access', 'adjtimex', 'alarm', 'bind', 'brk', 'cachestat', 'capget', 'capset',
  'chdir', 'chmod', 'chown', 'chown32', 'clock_adjtime', 'clock_adjtime64', 'clock_getres',
  'clock_getres_time64', 'clock_gettime', 'clock_gettime64', 'clock_nanosleep', 'clock_nanosleep_time64',
  'close', 'close_range', 'connect', 'copy_file_range', 'creat', 'dup', 'dup2', 'dup3',
  'epoll_create', 'epoll_create1', 'epoll_ctl', 'epoll_ctl_old', 'epoll_pwait', 'epoll_pwait2',
  'epoll_wait', 'epoll_wait_old', 'eventfd', 'eventfd2', 'execve', 'execveat', 'exit', 'exit_group',
  'faccessat', 'faccessat2', 'fadvise64', 'fadvise64_64', 'fallocate', 'fanotify_mark', 'fchdir',
  'fchmod', 'fchmodat', 'fchmodat2', 'fchown', 'fchown32', 'fchownat', 'fcntl', 'fcntl64', 'fdatasync',
  'fgetxattr', 'flistxattr', 'flock', 'fork', 'fremovexattr', 'fsetxattr', 'fstat', 'fstat64',
  'fstatat64', 'fstatfs', 'fstatfs64', 'fsync', 'ftruncate', 'ftruncate64', 'futex', 'futex_requeue',
  'futex_time64', 'futex_wait', 'futex_waitv', 'futex_wake', 'futimesat',
  'getcpu', 'getcwd', 'getdents', 'getdents64', 'getegid', 'getegid32', 'geteuid', 'geteuid32',
  'getgid', 'getgid32', 'getgroups', 'getgroups32', 'getitimer', 'getpeername', 'getpgid', 'getpgrp',
  'getpid', 'getppid', 'getpriority', 'getrandom', 'getresgid', 'getresgid32', 'getresuid',
  'getresuid32', 'getrlimit', 'get_robust_list', 'getrusage', 'getsid', 'getsockname', 'getsockopt',
  'get_thread_area', 'gettid', 'gettimeofday', 'getuid', 'getuid32', 'getxattr', 'getxattrat',
  'inotify_add_watch', 'inotify_init', 'inotify_init1', 'inotify_rm_watch', 'io_cancel', 'ioctl',
  'io_destroy', 'io_getevents', 'io_pgetevents', 'io_pgetevents_time64', 'ioprio_get', 'ioprio_set',
  'io_setup', 'io_submit', 'ipc', 'kill',
  'landlock_add_rule', 'landlock_create_ruleset', 'landlock_restrict_self', 'lchown', 'lchown32',
  'lgetxattr', 'link', 'linkat', 'listen', 'listmount', 'listxattr', 'listxattrat', 'llistxattr',
  '_llseek', 'lremovexattr', 'lseek', 'lsetxattr', 'lstat', 'lstat64',
  'madvise', 'map_shadow_stack', 'membarrier', 'memfd_create', 'memfd_secret', 'mincore', 'mkdir',
  'mkdirat', 'mknod', 'mknodat', 'mlock', 'mlock2', 'mlockall', 'mmap', 'mmap2', 'mprotect',
  'mq_getsetattr', 'mq_notify', 'mq_open', 'mq_timedreceive', 'mq_timedreceive_time64', 'mq_timedsend',
  'mq_timedsend_time64', 'mq_unlink', 'mremap', 'mseal', 'msgctl', 'msgget', 'msgrcv', 'msgsnd',
  'msync', 'munlock', 'munlockall', 'munmap',
  'name_to_handle_at', 'nanosleep', 'newfstatat', '_newselect', 'open', 'openat', 'openat2', 'pause',
  'pidfd_open', 'pidfd_send_signal', 'pipe', 'pipe2', 'pkey_alloc', 'pkey_free', 'pkey_mprotect',
  'poll', 'ppoll', 'ppoll_time64', 'prctl', 'pread64', 'preadv', 'preadv2', 'prlimit64',
  'process_mrelease', 'pselect6', 'pselect6_time64', 'pwrite64', 'pwritev', 'pwritev2',
  'read', 'readahead', 'readlink', 'readlinkat', 'readv', 'recv', 'recvfrom', 'recvmmsg',
  'recvmmsg_time64', 'recvmsg', 'remap_file_pages', 'removexattr', 'removexattrat', 'rename',
  'renameat', 'renameat2', 'restart_syscall', 'riscv_hwprobe', 'rmdir', 'rseq', 'rt_sigaction',
  'rt_sigpending', 'rt_sigprocmask', 'rt_sigqueueinfo', 'rt_sigreturn', 'rt_sigsuspend',
  'rt_sigtimedwait', 'rt_sigtimedwait_time64', 'rt_tgsigqueueinfo',
  'sched_getaffinity', 'sched_getattr', 'sched_getparam', 'sched_get_priority_max',
  'sched_get_priority_min', 'sched_getscheduler', 'sched_rr_get_interval',
  'sched_rr_get_interval_time64', 'sched_setaffinity', 'sched_setattr', 'sched_setparam',
  'sched_setscheduler', 'sched_yield', 'seccomp', 'select', 'semctl', 'semget', 'semop', 'semtimedop',
  'semtimedop_time64', 'send', 'sendfile', 'sendfile64', 'sendmmsg', 'sendmsg', 'sendto', 'setfsgid',
  'setfsgid32', 'setfsuid', 'setfsuid32', 'setgid', 'setgid32', 'setgroups', 'setgroups32',
  'setitimer', 'setpgid', 'setpriority', 'setregid', 'setregid32', 'setresgid', 'setresgid32',
  'setresuid', 'setresuid32', 'setreuid', 'setreuid32', 'setrlimit', 'set_robust_list', 'setsid',
  'setsockopt', 'set_thread_area', 'set_tid_address', 'setuid', 'setuid32', 'setxattr', 'setxattrat',
  'shmat', 'shmctl', 'shmdt', 'shmget', 'shutdown', 'sigaltstack', 'signalfd', 'signalfd4',
  'sigprocmask', 'sigreturn', 'socketcall', 'socketpair', 'splice', 'stat', 'stat64', 'statfs',
  'statfs64', 'statmount', 'statx', 'symlink', 'symlinkat', 'sync', 'sync_file_range', 'syncfs',
  'sysinfo', 'tee', 'tgkill', 'time', 'timer_create', 'timer_delete', 'timer_getoverrun',
  'timer_gettime', 'timer_gettime64', 'timer_settime', 'timer_settime64', 'timerfd_create',
  'timerfd_gettime', 'timerfd_gettime64', 'timerfd_settime', 'timerfd_settime64', 'times', 'tkill',
  'truncate', 'truncate64', 'ugetrlimit', 'umask', 'uname', 'unlink', 'unlinkat', 'uretprobe', 'utime',
  'utimensat', 'utimensat_time64', 'utimes', 'vfork', 'vmsplice', 'wait4', 'waitid', 'waitpid',
  'write', 'writev',
];

// socket(2) domains (<linux/socket.h>) a container may create. Left out: AF_ALG (38), the kernel
// crypto API, attack surface no ordinary program needs; AF_VSOCK (40), host/guest sockets that
// network namespaces do not isolate by default; and the families the kernel has dropped (DECnet
// 12, Econet 19, ATM SVC 20, IrDA 23, Wanpipe 25, ISDN 34, CAIF 37). socketcall(2), the 32-bit
// x86 multiplexer, passes its arguments through memory the filter cannot read: that path stays
// open, as in moby.
const SOCKET_DOMAINS = [
  1 /* UNIX */, 2 /* INET */, 3 /* AX25 */, 4 /* IPX */, 5 /* APPLETALK */, 6 /* NETROM */,
  7 /* BRIDGE */, 8 /* ATMPVC */, 9 /* X25 */, 10 /* INET6 */, 11 /* ROSE */, 13 /* NETBEUI */,
  14 /* SECURITY */, 15 /* KEY */, 16 /* NETLINK */, 17 /* PACKET */, 18 /* ASH */, 21 /* RDS */,
  22 /* SNA */, 24 /* PPPOX */, 26 /* LLC */, 27 /* IB */, 28 /* MPLS */, 29 /* CAN */, 30 /* TIPC */,
  31 /* BLUETOOTH */, 32 /* IUCV */, 33 /* RXRPC */, 35 /* PHONET */, 36 /* IEEE802154 */, 39 /* NFC */,
  41 /* KCM */, 42 /* QIPCRTR */, 43 /* SMC */, 44 /* XDP */, 45 /* MCTP */,
];

// personality(2) values a container may set: PER_LINUX, PER_LINUX32, UNAME26, PER_LINUX32|UNAME26,
// and 0xffffffff, which only queries. The others (READ_IMPLIES_EXEC, ADDR_NO_RANDOMIZE...) weaken
// the container's own exploit mitigations.
const PERSONALITIES = [0x0, 0x8, 0x20000, 0x20008, 0xffffffff];

// CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET: without CAP_SYS_ADMIN,
// clone may make threads and processes but no namespaces (CLONE_NEWTIME can only be asked of
// clone3 and unshare: in clone's flags its bit is part of the exit signal).
export const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** A condition on the container and machine, as moby writes them. */
interface When {
  /** Bounding capabilities: an `includes` needs all of them, an `excludes` any one. */
  caps?: string[];
  /** Architectures in libseccomp's spelling (amd64, x86, arm64, s390x...): one must match. */
  arches?: string[];
  /** "major.minor": a kernel at least this new. */
  minKernel?: string;
}
interface Conditional {
  rule: Rule;
  includes?: When;
  excludes?: When;
}

const allow = (names: string[], args?: Arg[]): Rule => ({ names, action: 'SCMP_ACT_ALLOW', ...(args ? { args } : {}) });
const arg0 = (op: Arg['op'], value: number): Arg[] => [{ index: 0, value, op }];
const withCap = (cap: string, names: string[]): Conditional => ({ rule: allow(names), includes: { caps: [cap] } });
const onArch = (arches: string[], names: string[]): Conditional => ({ rule: allow(names), includes: { arches } });

/** socket(2) rules for SORTED domains: the run from AF_UNIX up becomes one `<` comparison (0,
 * AF_UNSPEC, cannot be created anyway), every later domain its own `==`. A rule with both a lower
 * and an upper bound on one argument is not an option: runc ORs comparisons on the same argument. */
function socketRules(domains: readonly number[]): Conditional[] {
  let run = 0;
  while (domains[run] === run + 1) run++;
  const rules = run > 1 ? [allow(['socket'], arg0('SCMP_CMP_LT', run + 1))] : [];
  for (const d of domains.slice(run > 1 ? run : 0)) rules.push(allow(['socket'], arg0('SCMP_CMP_EQ', d)));
  return rules.map((rule) => ({ rule }));
}

const cloneMasked = (index: number): Rule => ({
  names: ['clone'],
  action: 'SCMP_ACT_ALLOW',
  // MASKED_EQ: (flags & value) == valueTwo, i.e. none of the namespace flags set.
  args: [{ index, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
});

// Every rule of moby's profile, in its order (which is the order of the resolved list).
const RULES: Conditional[] = [
  { rule: allow(ALLOWED) },
  // Before 4.8 a tracer could rewrite a syscall after seccomp had let it through. Left out unless
  // the options name a kernel (see DefaultSeccompOptions.kernel).
  { rule: allow(['process_vm_readv', 'process_vm_writev', 'ptrace']), includes: { minKernel: '4.8' } },
  ...socketRules(SOCKET_DOMAINS),
  ...PERSONALITIES.map((p) => ({ rule: allow(['personality'], arg0('SCMP_CMP_EQ', p)) })),
  onArch(['ppc64le'], ['sync_file_range2', 'swapcontext']),
  onArch(['arm', 'arm64'], ['arm_fadvise64_64', 'arm_sync_file_range', 'sync_file_range2', 'breakpoint', 'cacheflush', 'set_tls']),
  onArch(['amd64', 'x32'], ['arch_prctl']),
  onArch(['amd64', 'x32', 'x86'], ['modify_ldt']),
  onArch(['s390', 's390x'], ['s390_pci_mmio_read', 's390_pci_mmio_write', 's390_runtime_instr']),
  onArch(['riscv64'], ['riscv_flush_icache']),
  // open_by_handle_at with CAP_DAC_READ_SEARCH reads any file of the filesystem (the 2014
  // "shocker" escape); without that capability it only fails.
  withCap('CAP_DAC_READ_SEARCH', ['open_by_handle_at']),
  withCap('CAP_SYS_ADMIN', [
    'bpf', 'clone', 'clone3', 'fanotify_init', 'fsconfig', 'fsmount', 'fsopen', 'fspick', 'lookup_dcookie',
    'lsm_get_self_attr', 'lsm_list_modules', 'lsm_set_self_attr', 'mount', 'mount_setattr', 'move_mount',
    'open_tree', 'perf_event_open', 'quotactl', 'quotactl_fd', 'setdomainname', 'sethostname', 'setns',
    'syslog', 'umount', 'umount2', 'unshare',
  ]),
  { rule: cloneMasked(0), excludes: { caps: ['CAP_SYS_ADMIN'], arches: ['s390', 's390x'] } },
  // s390's clone takes the stack first and the flags second.
  { rule: cloneMasked(1), includes: { arches: ['s390', 's390x'] }, excludes: { caps: ['CAP_SYS_ADMIN'] } },
  { rule: { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: ENOSYS }, excludes: { caps: ['CAP_SYS_ADMIN'] } },
  withCap('CAP_SYS_BOOT', ['reboot']),
  withCap('CAP_SYS_CHROOT', ['chroot']),
  withCap('CAP_SYS_MODULE', ['delete_module', 'init_module', 'finit_module']),
  withCap('CAP_SYS_PACCT', ['acct']),
  withCap('CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise', 'process_vm_readv', 'process_vm_writev', 'ptrace']),
  withCap('CAP_SYS_RAWIO', ['iopl', 'ioperm']),
  withCap('CAP_SYS_TIME', ['settimeofday', 'stime', 'clock_settime', 'clock_settime64']),
  withCap('CAP_SYS_TTY_CONFIG', ['vhangup']),
  withCap('CAP_SYS_NICE', ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node']),
  withCap('CAP_SYSLOG', ['syslog']),
  withCap('CAP_BPF', ['bpf']),
  withCap('CAP_PERFMON', ['perf_event_open']),
];

// Node's process.arch -> libseccomp's name, the spelling of moby's `arches` conditions. Node's
// ppc64 on Linux is little-endian.
const NATIVE_ARCH: Record<string, string> = {
  x64: 'amd64', ia32: 'x86', arm64: 'arm64', arm: 'arm', ppc64: 'ppc64le', ppc: 'ppc', s390x: 's390x',
  s390: 's390', riscv64: 'riscv64', loong64: 'loongarch64', mips: 'mips', mipsel: 'mipsel',
};

// moby's archMap: a 64-bit kernel also runs the compat ABIs listed after it, and a filter that
// does not name them lets their syscalls through unfiltered or kills them, depending on the
// runtime. An architecture without an entry gets no list: the runtime filters its native ABI.
// (moby's lookup turns loong64 into "loongarch64" but keys its table by "loong64", so it never
// reaches its own LOONGARCH64 entry; launch uses the entry.)
const ARCH_FAMILY: Record<string, string[]> = {
  amd64: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  arm64: ['SCMP_ARCH_AARCH64', 'SCMP_ARCH_ARM'],
  s390x: ['SCMP_ARCH_S390X', 'SCMP_ARCH_S390'],
  riscv64: ['SCMP_ARCH_RISCV64'],
  loongarch64: ['SCMP_ARCH_LOONGARCH64'],
};

export interface DefaultSeccompOptions {
  /** The container's bounding capabilities, which the capability conditions test. */
  caps: readonly string[];
  /** Node's name of the architecture the config is for; default: this machine's. */
  arch?: string;
  /** The kernel the config is for, "major.minor[.patch]". Without it, rules that need a minimum
   * kernel are left out (ptrace and process_vm_*, allowed by moby since 4.8, then need
   * CAP_SYS_PTRACE, as in containerd's profile). generate.ts passes launch's minimum kernel. */
  kernel?: string;
}

function atLeast(kernel: string | undefined, min: string): boolean {
  if (kernel === undefined) return false;
  const [a = 0, b = 0] = kernel.split('.').map((n) => parseInt(n, 10) || 0);
  const [c = 0, d = 0] = min.split('.').map((n) => parseInt(n, 10));
  return a > c || (a === c && b >= d);
}

/** Docker's default `linux.seccomp`, its conditions evaluated for `opts`. */
export function defaultSeccomp(opts: DefaultSeccompOptions): Seccomp {
  const arch = NATIVE_ARCH[opts.arch ?? process.arch] ?? opts.arch ?? process.arch;
  const hasCap = (c: string) => opts.caps.includes(c);
  const excluded = (w: When) =>
    (w.arches?.includes(arch) ?? false) || (w.caps?.some(hasCap) ?? false) || (w.minKernel !== undefined && atLeast(opts.kernel, w.minKernel));
  const included = (w: When) =>
    (w.arches === undefined || w.arches.includes(arch)) && (w.caps?.every(hasCap) ?? true) && (w.minKernel === undefined || atLeast(opts.kernel, w.minKernel));
  const syscalls = RULES.filter((r) => !(r.excludes && excluded(r.excludes)) && (!r.includes || included(r.includes)))
    // Copies, so that a caller editing its config cannot change the next one.
    .map(({ rule }) => structuredClone(rule));
  const architectures = ARCH_FAMILY[arch];
  return {
    defaultAction: 'SCMP_ACT_ERRNO',
    defaultErrnoRet: EPERM,
    ...(architectures ? { architectures: [...architectures] } : {}),
    syscalls,
  };
}
