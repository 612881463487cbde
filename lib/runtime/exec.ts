// `exec`: a new process inside a running container, as runc exec. It joins every namespace of
// the container's init that differs from launch's own (the user namespace first; the pid
// namespace by a fork after setns), enters the container's cgroup while it waits at its
// first sync, and execs with the process settings (lib/plan/build.ts buildExecPlan).
import { closeSync, constants, fstatSync, openSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeCgroupFile } from '../cgroups/apply.js';
import { fromNodeError, nodeErrno, stateError } from '../errors.js';
import { type HostFacts, probeHost } from '../host.js';
import { buildExecPlan } from '../plan/build.js';
import type { IdMap, Mapping } from '../plan/idmap.js';
import type { Process } from '../spec/schema.js';
import { isAlive } from '../state/proc.js';
import type { ContainerState } from '../state/store.js';
import { startContainer } from './launcher.js';
import { writePidFile } from './run.js';
import { type Forwarder, forwardSignals } from './signals.js';
import { ConsoleMaster, checkConsoleSocket } from './terminal.js';
import { execImage } from './execimage.js';
import { seccompCompiler, sendSeccompFd } from './seccomp.js';

/** runc exec's flags that change the config's process (lib/cli/exec.ts parses them). */
export interface ExecFlags {
  args: string[];
  cwd?: string;
  /** KEY=VALUE, added to the config's env; a key given again wins. */
  env?: string[];
  tty?: boolean;
  user?: { uid: number; gid?: number };
  additionalGids?: number[];
  /** Capability names (CAP_...), added to the bounding, effective and permitted sets. */
  caps?: string[];
  noNewPrivs?: boolean;
  /** --apparmor and --process-label: replace the config's process.apparmorProfile, selinuxLabel. */
  apparmor?: string;
  processLabel?: string;
}

/** Keep the last value of each variable, at the place of its last occurrence, as runc does:
 * a duplicate in envp would make getenv() return the config's value, not the flag's. */
export function dedupEnv(env: readonly string[]): string[] {
  const seen = new Set<string>();
  const out: string[] = [];
  for (let i = env.length - 1; i >= 0; i--) {
    const key = env[i]!.slice(0, Math.max(0, env[i]!.indexOf('=')));
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(env[i]!);
  }
  return out.reverse();
}

/** The process exec runs without --process: the container config's, with the flags applied
 * as runc exec's getProcess does (a terminal only with --tty). */
export function execProcess(config: Process, flags: ExecFlags): Process {
  const p: Process = structuredClone(config);
  p.args = flags.args;
  if (flags.cwd) p.cwd = flags.cwd;
  p.env = dedupEnv([...(p.env ?? []), ...(flags.env ?? [])]);
  p.terminal = Boolean(flags.tty);
  if (flags.noNewPrivs) p.noNewPrivileges = true;
  if (flags.apparmor) p.apparmorProfile = flags.apparmor;
  if (flags.processLabel) p.selinuxLabel = flags.processLabel;
  if (flags.user || flags.additionalGids?.length) {
    const user = { ...(p.user ?? { uid: 0, gid: 0 }) };
    if (flags.user) {
      user.uid = flags.user.uid;
      if (flags.user.gid !== undefined) user.gid = flags.user.gid;
    }
    if (flags.additionalGids?.length) user.additionalGids = [...(user.additionalGids ?? []), ...flags.additionalGids];
    p.user = user;
  }
  // Without a capabilities object the process keeps every capability: nothing to add to.
  if (flags.caps?.length && p.capabilities) {
    const c = p.capabilities;
    const add = (set: string[] | undefined) => [...new Set([...(set ?? []), ...flags.caps!])];
    c.bounding = add(c.bounding);
    c.effective = add(c.effective);
    c.permitted = add(c.permitted);
    // Ambient needs inheritable, which --cap does not set: only where the config has one.
    if (c.inheritable) c.ambient = add(c.ambient);
  }
  return p;
}

// /proc/<pid>/ns file -> linux.namespaces type. `mnt` last: see JOIN_ORDER in build.ts.
const NS_FILES: [string, string][] = [
  ['user', 'user'], ['ipc', 'ipc'], ['uts', 'uts'], ['net', 'network'], ['pid', 'pid'], ['cgroup', 'cgroup'], ['time', 'time'], ['mnt', 'mount'],
];

interface NsFd {
  type: string;
  fd: number;
  file: string;
}

/** Open the init's namespaces that are not launch's own. Held open by launch, they are what
 * the child joins (through /proc/self/fd/N): a pid recycled after this cannot redirect it. */
function openNamespaces(state: ContainerState): NsFd[] {
  const out: NsFd[] = [];
  try {
    for (const [name, type] of NS_FILES) {
      let ours;
      try {
        ours = statSync(`/proc/self/ns/${name}`);
      } catch {
        continue; // a kernel without this namespace type
      }
      const file = `/proc/${state.pid}/ns/${name}`;
      let fd: number;
      try {
        fd = openSync(file, 'r');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw stateError(`container \`${state.id}\` is not running`);
        // Until its exec the init is a copy of launch and not dumpable (CVE-2019-5736), so its
        // /proc files are root's: an ordinary user can join it only once it runs its program.
        if ((err as NodeJS.ErrnoException).code === 'EACCES' && state.status === 'created' && process.getuid!() !== 0) {
          throw stateError(`container \`${state.id}\` is created but not started: rootless, it takes an exec once \`launch start\` has run its program`, { file, errno: nodeErrno(err) });
        }
        throw fromNodeError('host', "cannot open the container's namespace", err, { file });
      }
      const st = fstatSync(fd);
      if (st.ino === ours.ino && st.dev === ours.dev) closeSync(fd);
      else out.push({ type, fd, file });
    }
  } catch (err) {
    for (const ns of out) closeSync(ns.fd);
    throw err;
  }
  return out;
}

/** The init's root directory, when it is not ours (a container without a mount namespace). */
function openInitRoot(pid: number): number | undefined {
  const file = `/proc/${pid}/root`;
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_DIRECTORY);
  } catch (err) {
    throw fromNodeError('host', "cannot open the container's root", err, { file });
  }
  const st = fstatSync(fd);
  const ours = statSync('/');
  if (st.ino === ours.ino && st.dev === ours.dev) {
    closeSync(fd);
    return undefined;
  }
  return fd;
}

/** The joined user namespace's maps, so that the plan checks the process's ids against them. */
function readIdMap(pid: number): IdMap {
  const maps = (kind: string): Mapping[] =>
    readFileSync(`/proc/${pid}/${kind}_map`, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [containerID, hostID, size] = line.trim().split(/\s+/).map(Number) as [number, number, number];
        return { containerID, hostID, size };
      });
  const setgroups = readFileSync(`/proc/${pid}/setgroups`, 'utf8').trim();
  return { uid: maps('uid'), gid: maps('gid'), uidMethod: 'write', gidMethod: 'write', setgroupsDeny: setgroups === 'deny' };
}

/** Put the process in the container's cgroup (each v1 hierarchy, or the v2 directory). As
 * runc, rootless skips a cgroup it may not enter. */
function enterCgroup(state: ContainerState, pid: number, host: HostFacts, debug?: (line: string) => void): void {
  for (const dir of new Set(Object.values(state.cgroup?.dirs ?? {}))) {
    try {
      writeCgroupFile(join(dir, 'cgroup.procs'), String(pid));
    } catch (err) {
      if (host.uid !== 0) {
        debug?.(`rootless: not moved into the container's cgroup \`${dir}\`: ${(err as Error).message}`);
        continue;
      }
      throw fromNodeError('host', "cannot move the process into the container's cgroup", err, { file: dir });
    }
  }
}

export interface ExecOptions {
  /** The container (running or created), as lib/lifecycle/state.ts currentState reads it. */
  state: ContainerState;
  process: Process;
  /** Return once the program runs (its exit is nobody's business), as runc exec -d. */
  detach?: boolean;
  pidFile?: string;
  /** Pass fds 3..3+N-1 on to the program: as RunOptions.preserveFds, the embedder checks them. */
  preserveFds?: number;
  /** --console-socket: where the pty master of a terminal goes (lib/runtime/terminal.ts). */
  consoleSocket?: string;
  debug?: (line: string) => void;
}

/** Run the process; foreground: its exit status (128+N for signal N), detached: 0. */
export async function execInContainer(opts: ExecOptions): Promise<number> {
  const { state } = opts;
  if (state.pid === undefined) throw stateError(`container \`${state.id}\` is not running`);
  checkConsoleSocket(opts.process.terminal, opts.consoleSocket, opts.detach ? '`exec --detach`' : undefined);
  const host = probeHost();
  const namespaces = openNamespaces(state);
  const pty = new ConsoleMaster(opts.consoleSocket);
  let forwarder: Forwarder | undefined;
  let rootFd: number | undefined;
  const closeNamespaces = () => {
    for (const ns of namespaces.splice(0)) closeSync(ns.fd);
    if (rootFd !== undefined) closeSync(rootFd);
    rootFd = undefined;
  };
  try {
    // Checked with the namespaces open: they belong to this container, not to a later
    // process that got its pid.
    if (!isAlive(state.pid, state.started)) throw stateError(`container \`${state.id}\` is not running`);
    const idmap = namespaces.some((ns) => ns.type === 'user') ? readIdMap(state.pid) : undefined;
    // No mount namespace of its own: the init was chroot'ed (lib/plan/nomountns.ts); so is
    // this process, into the init's root held open here (a recycled pid cannot redirect it).
    if (!namespaces.some((ns) => ns.type === 'mount')) rootFd = openInitRoot(state.pid);
    const plan = buildExecPlan(opts.process, {
      host,
      joins: namespaces.map((ns) => ({ type: ns.type, path: `/proc/self/fd/${ns.fd}`, file: ns.file })),
      dieWithParent: !opts.detach,
      idmap,
      preserveFds: opts.preserveFds,
      // The container's session keyring (made by its init), as runc exec joins it.
      sessionKeyring: `_ses.${state.id}`,
      ...(rootFd !== undefined ? { chroot: { path: `/proc/self/fd/${rootFd}`, file: `/proc/${state.pid}/root` } } : {}),
      seccompConfig: state.seccomp,
      seccomp: seccompCompiler(),
      execImage: execImage(),
    });
    for (const note of plan.notes) opts.debug?.(note);
    if (!opts.detach) forwarder = forwardSignals({ terminal: Boolean(opts.process.terminal) });
    const started = await startContainer(plan, {
      host,
      watch: !opts.detach,
      onConsole: (fd) => pty.take(fd),
      onSeccomp: (fd, pid) => sendSeccompFd(plan.seccompListener!, fd, { ...state, pid, status: 'running' }),
      beforeRelease: (pid) => {
        enterCgroup(state, pid, host, opts.debug);
        if (opts.pidFile) writePidFile(opts.pidFile, pid);
      },
    });
    closeNamespaces();
    if (opts.detach) {
      started.release();
      return 0;
    }
    forwarder!.attach(started);
    const relay = pty.relay();
    const status = await started.exited;
    await relay?.done();
    started.release();
    return status.signal ? 128 + status.signal : (status.code ?? 125);
  } finally {
    forwarder?.dispose();
    closeNamespaces();
    pty.close();
  }
}
