// The only loader of the addon. Loaded lazily by the verbs that clone or join namespaces.
import { createRequire } from 'node:module';
import { hostError } from '../errors.js';

export interface NativeAddon {
  opTable(): { name: string; code: number; sig: string }[];
  validatePlan(plan: Buffer): number;
  spawn(plan: Buffer, cloneFlags: number, pidnsFd: number): { pid: number; pidfd: number; syncFd: number };
  waitExit(pidfd: number, cb: (code: number, signal: number, errno: number) => void): void;
  pidfdSignal(pidfd: number, signal: number): number;
  pidfdOpen(pid: number): number;
  /** One message of a socket and the fd it carries (SCM_RIGHTS; -1 for none, close-on-exec);
   * null at end-of-file. Throws with errno (ECONNRESET: the peer died with data unread). */
  recvMsg(sock: number, maxBytes: number): { data: Buffer; fd: number } | null;
  /** Connect to the AF_UNIX stream socket at `path` and send `fd` (SCM_RIGHTS) with `name` as
   * the data, as runc hands a pty master to --console-socket. Throws with errno, syscall. */
  sendFd(path: string, fd: number, name: string): void;
  setWinsize(fd: number, rows: number, cols: number): number;
  /** Turn a terminal's output processing (OPOST) on or off; errno, 0 on success. */
  setOutputProcessing(fd: number, on: boolean): number;
  /** errno, 0 on success. */
  mkfifo(path: string, mode: number): number;
  /** open_tree(2) OPEN_TREE_CLONE of `path`, close-on-exec: a detached bind for the child to
   * move_mount (OPF.TREE). Throws with errno. Root only. */
  openTree(path: string): number;
  /** lsetxattr(2) with flags 0 (create or replace); errno, 0 on success. */
  lsetxattr(path: string, name: string, value: Buffer): number;
  /** lgetxattr(2): the value, or the errno as a number. */
  lgetxattr(path: string, name: string): Buffer | number;
  /** FNV-1a, 64 bits, as 16 hex digits (addon/common/fnv.h, the runner's own). */
  fnv1a64(data: Uint8Array): string;
  /** flock(2); errno, 0 on success. */
  flock(fd: number, op: number): number;
  /** poll(2) for input or hang-up: the revents, 0 on timeout, or -errno. */
  waitReadable(fd: number, timeoutMs: number): number;
  /** Loads `insns` (lib/cgroups/devicefilter.ts) as the cgroup v2 device filter of
   * `cgroupDir`, replacing any there. Throws with errno, syscall (and `log` on a verifier refusal). */
  attachDeviceFilter(cgroupDir: string, insns: Buffer): void;
  /** execve the monitor (a path, or its ELF image, run from a sealed memfd) with `argv`,
   * keeping `keepFds` and 0-2 open and every signal blocked; returns only by throwing. */
  execMonitor(image: Buffer | string, argv: string[], keepFds: number[]): void;
  /** Forward these signals from a native handler, held until forwardTo; errno. */
  forwardSignals(signals: number[]): number;
  /** Deliver to this pidfd (dup'ed), held signals first; errno. */
  forwardTo(pidfd: number): number;
  /** Put back the dispositions forwardSignals replaced. */
  stopForwarding(): void;
  /** linux.seccomp compiled by libseccomp (dlopen'ed): the BPF program and the rules skipped
   * as unknown syscalls. Throws with errno, `what` (library, arch, rule...) and `index`. */
  compileSeccomp(defaultAction: number, archs: string[], rules: [string, number, [number, number, bigint, bigint][]][]): { bpf: Buffer; unknown: number[] };
  /** libseccomp's version ("2.5.4"). Throws (what: library) when it cannot be loaded. */
  seccompVersion(): string;
  /** The SECCOMP_FILTER_FLAG_* bits of `flags` this kernel accepts. */
  seccompFlagsSupported(flags: number): number;
}

/** Where `npm run build:addon` puts the addon and the monitor: the same relative path from
 * lib/runtime (vitest) and dist/runtime (built). */
export function addonDir(): string {
  return new URL('../../build/Release', import.meta.url).pathname;
}

let cached: NativeAddon | undefined;
let loader: (() => NativeAddon) | undefined;

/** The single executable carries the addon inside it and loads it its own way (binary.ts). */
export function setAddonLoader(load: () => NativeAddon): void {
  loader = load;
}

export function native(): NativeAddon {
  if (cached) return cached;
  if (loader) {
    try {
      return (cached = loader());
    } catch (err) {
      throw hostError('cannot load the native addon carried in the launch binary', { cause: err, errno: (err as { errno?: number }).errno });
    }
  }
  const require = createRequire(import.meta.url);
  const path = process.env.LAUNCH_ADDON ?? `${addonDir()}/launch_native.node`;
  try {
    cached = require(path) as NativeAddon;
  } catch (err) {
    throw hostError('cannot load the native addon (run `npm install` to build it)', { file: path, cause: err });
  }
  return cached;
}
