// `launch features`: the OCI features document (runtime-spec features.md) for this build.
// It says what launch implements, not what this host offers (the spec asks for build-time
// facts), and it must stay truthful: a feature appears here when its code and tests landed.
import { ALL_CAP_NAMES } from '../plan/caps.js';
import { knownMountOptions } from '../plan/mountopts.js';
import { SECCOMP_FLAG_NAMES } from '../plan/seccomp.js';
import { SECCOMP_ACTIONS, SECCOMP_OPERATORS } from '../spec/schema.js';
import { LAUNCH_VERSION } from './version.js';

// The architectures libseccomp 2.5 resolves.
const SECCOMP_ARCHS = ['X86', 'X86_64', 'X32', 'ARM', 'AARCH64', 'MIPS', 'MIPS64', 'MIPS64N32', 'MIPSEL', 'MIPSEL64', 'MIPSEL64N32',
  'PPC', 'PPC64', 'PPC64LE', 'S390', 'S390X', 'PARISC', 'PARISC64', 'RISCV64'].map((a) => `SCMP_ARCH_${a}`);

export function features(): Record<string, unknown> {
  return {
    ociVersionMin: '1.0.0',
    ociVersionMax: '1.2.0',
    // All of runtime-spec's, prestart (deprecated) included: lib/runtime/hooks.ts, RUN_HOOK.
    hooks: ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'],
    mountOptions: knownMountOptions(),
    annotations: { 'org.launch.version': LAUNCH_VERSION },
    potentiallyUnsafeConfigAnnotations: [],
    linux: {
      namespaces: ['cgroup', 'ipc', 'mount', 'network', 'pid', 'time', 'user', 'uts'],
      capabilities: [...ALL_CAP_NAMES],
      cgroup: { v1: true, v2: true, systemd: true, systemdUser: true, rdma: true },
      // Compiled by libseccomp 2.5+ (loaded at run time): lib/plan/seccomp.ts.
      seccomp: {
        enabled: true,
        actions: [...SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: SECCOMP_ARCHS,
        knownFlags: SECCOMP_FLAG_NAMES,
        supportedFlags: SECCOMP_FLAG_NAMES,
      },
      // Applied where the host runs the module, refused with the config path where it does not
      // (lib/plan/lsm.ts).
      apparmor: { enabled: true },
      selinux: { enabled: true },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
  };
}

export function featuresVerb(): void {
  process.stdout.write(`${JSON.stringify(features(), null, 4)}\n`);
}
