// `launch spec`: the starter config.json, field for field what `runc spec` (and
// `runc spec --rootless`) writes, so bundles and habits carry over between the two runtimes,
// except for confinement: runc's starter has three capabilities (listed as ambient too) and no
// seccomp filter, which leaves a bundle from `runc spec` less confined than a `docker run`.
// launch's gets what Docker gives every container: its 14 capabilities and its default seccomp
// profile. Keys are built in runc's order (seccomp where runtime-spec's Go struct, and so podman,
// puts it), so the printed JSON diffs cleanly against runc's.
//
// demoSpec(): a self-contained config whose rootfs is an empty directory and which borrows
// the host's programs and libraries through read-only binds; used by `launch` demos and tests.
import { existsSync } from 'node:fs';
import type { IdMapping, Mount, Namespace, Spec } from './schema.js';
import { defaultSeccomp } from './seccomp-default.js';

/** The runtime-spec version launch implements and writes into new configs. */
export const OCI_VERSION = '1.2.0';

const DEFAULT_ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'];
/** Docker's default capabilities (moby's oci/caps.DefaultCapabilities). */
export const DEFAULT_CAPS: readonly string[] = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_FSETID', 'CAP_FOWNER', 'CAP_MKNOD', 'CAP_NET_RAW', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETFCAP', 'CAP_SETPCAP', 'CAP_NET_BIND_SERVICE', 'CAP_SYS_CHROOT', 'CAP_KILL',
  'CAP_AUDIT_WRITE',
];

// Kernel interfaces that leak host information or allow host-wide actions, masked (bind of
// /dev/null or an empty tmpfs) or made read-only exactly as runc's default spec does.
const MASKED_PATHS = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

const ns = (...types: Namespace['type'][]): Namespace[] => types.map((type) => ({ type }));
// Resolved for the default capabilities and this machine's architecture, at call time. The
// kernel is the oldest launch runs on (clone3, openat2, close_range: 5.11), so moby's rules for
// kernels since 4.8 apply: ptrace and process_vm_* are allowed, as in `docker run`.
export const SECCOMP_KERNEL = '5.11';
const seccomp = () => defaultSeccomp({ caps: DEFAULT_CAPS, kernel: SECCOMP_KERNEL });
const selfMapping = (hostID: number): IdMapping[] => [{ containerID: 0, hostID, size: 1 }];

function baseProcess(args: string[], terminal: boolean): NonNullable<Spec['process']> {
  return {
    terminal,
    user: { uid: 0, gid: 0 },
    args: [...args],
    env: [...DEFAULT_ENV],
    cwd: '/',
    // No inheritable and no ambient set, as Docker: a process.user other than root starts with
    // no capabilities.
    capabilities: {
      bounding: [...DEFAULT_CAPS],
      effective: [...DEFAULT_CAPS],
      permitted: [...DEFAULT_CAPS],
    },
    rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
    noNewPrivileges: true,
  };
}

const procMount = (): Mount => ({ destination: '/proc', type: 'proc', source: 'proc' });
const devMount = (): Mount => ({
  destination: '/dev',
  type: 'tmpfs',
  source: 'tmpfs',
  options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
});
// gid=5 (tty) names a group that does not exist in a single-id user namespace: the devpts
// mount would fail with EINVAL, which is why runc drops it for rootless containers.
const devptsMount = (rootless: boolean): Mount => ({
  destination: '/dev/pts',
  type: 'devpts',
  source: 'devpts',
  options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', ...(rootless ? [] : ['gid=5'])],
});

export interface DefaultSpecOptions {
  rootless: boolean;
  /** Replaces ["sh"]. */
  args?: string[];
  /** Host ids mapped to root with `rootless`; the caller's own ids by default. */
  uid?: number;
  gid?: number;
}

/** What `runc spec [--rootless]` writes, except that ociVersion is launch's own and the process
 * is confined as by Docker: its 14 capabilities and its default seccomp profile. */
export function defaultSpec(opts: DefaultSpecOptions): Spec {
  const { rootless } = opts;
  const mounts: Mount[] = [
    procMount(),
    devMount(),
    devptsMount(rootless),
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // A user namespace that does not own a network namespace may not mount sysfs (the
    // kernel ties sysfs to the netns owner), so rootless borrows the host's /sys instead.
    rootless
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ];
  // Rootless: no cgroup resources (an unprivileged user usually cannot write them), no new
  // network namespace (it would have no connectivity), and a user namespace mapping the
  // caller to root. runc reads the ids at run time, so do we: not at import.
  const linux: NonNullable<Spec['linux']> = rootless
    ? {
        uidMappings: selfMapping(opts.uid ?? process.getuid?.() ?? 0),
        gidMappings: selfMapping(opts.gid ?? process.getgid?.() ?? 0),
        namespaces: ns('pid', 'ipc', 'uts', 'mount', 'user'),
        seccomp: seccomp(),
        maskedPaths: [...MASKED_PATHS],
        readonlyPaths: [...READONLY_PATHS],
      }
    : {
        resources: { devices: [{ allow: false, access: 'rwm' }] },
        namespaces: ns('pid', 'network', 'ipc', 'uts', 'mount'),
        seccomp: seccomp(),
        maskedPaths: [...MASKED_PATHS],
        readonlyPaths: [...READONLY_PATHS],
      };
  return {
    ociVersion: OCI_VERSION,
    process: baseProcess(opts.args ?? ['sh'], true),
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts,
    linux,
  };
}

/** Host directories a demo container borrows, read-only, instead of carrying a rootfs. /etc is
 * deliberately absent: the host's passwd, shadow and resolv.conf are not the container's. */
export const DEMO_HOST_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib64', '/lib32', '/libx32'];

export interface DemoSpecOptions {
  rootless: boolean;
  /** Host ids mapped to root in the container when `rootless`. */
  uid: number;
  gid: number;
  args: string[];
  hostname: string;
  /** Whether a host path exists; injectable so tests do not depend on the host's layout. */
  exists?: (path: string) => boolean;
}

/** A config for a bundle whose rootfs is an empty directory (plus a small /etc the caller
 * writes): the host's binaries come in through read-only bind mounts. */
export function demoSpec(opts: DemoSpecOptions): Spec {
  const exists = opts.exists ?? existsSync;
  // On merged-/usr hosts /bin and friends are symlinks into /usr; binding them still works
  // because a bind mount resolves its source, and it keeps one config for both layouts.
  const binds: Mount[] = DEMO_HOST_DIRS.filter((d) => exists(d)).map((d) => ({
    destination: d,
    type: 'bind',
    source: d,
    options: ['rbind', 'ro', 'nosuid', 'nodev'],
  }));
  const mounts: Mount[] = [
    procMount(),
    devMount(),
    devptsMount(opts.rootless),
    { destination: '/tmp', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'nodev', 'mode=1777'] },
    ...binds,
  ];
  const namespaces = ns('pid', 'network', 'ipc', 'uts', 'mount', 'cgroup');
  // No /sys is mounted here, so only the /proc entries have anything to mask.
  const masks = { maskedPaths: MASKED_PATHS.filter((p) => p.startsWith('/proc/')), readonlyPaths: [...READONLY_PATHS] };
  const linux: NonNullable<Spec['linux']> = opts.rootless
    ? {
        uidMappings: selfMapping(opts.uid),
        gidMappings: selfMapping(opts.gid),
        namespaces: [...namespaces, { type: 'user' }],
        seccomp: seccomp(),
        ...masks,
      }
    : { namespaces, seccomp: seccomp(), ...masks };
  const proc = baseProcess(opts.args, false);
  proc.env = [DEFAULT_ENV[0]!, 'HOME=/root'];
  return {
    ociVersion: OCI_VERSION,
    process: proc,
    root: { path: 'rootfs', readonly: true },
    hostname: opts.hostname,
    mounts,
    linux,
  };
}
