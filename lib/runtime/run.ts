// `run` in the foreground: start the container, pass signals on, relay the terminal if there
// is one, and come back with the shell's idea of the exit status (code, or 128+signal).
import { chmodSync, closeSync, constants as fsConstants, openSync, readFileSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createCgroup, joinCgroup, planCgroup, removeDirs, v1Hierarchies, wantsLimits } from '../cgroups/manager.js';
import { ownNamespace, warnShared } from '../cgroups/members.js';
import { ignoredFields } from '../cgroups/values.js';
import { fromNodeError, hostError } from '../errors.js';
import { type HostFacts, probeHost } from '../host.js';
import { type Plan, type PlanOptions, buildPlan } from '../plan/build.js';
import { encodePlan } from '../plan/encode.js';
import type { CgroupPlan } from '../cgroups/manager.js';
import type { CompileInput } from '../compiled/compile.js';
import type { LookupWords } from '../compiled/format.js';
import { record as recordReads } from '../compiled/facts.js';
import { buildFiles, storeCompiled } from '../compiled/store.js';
import type { Process, Spec } from '../spec/schema.js';
import { processStartTime } from '../state/proc.js';
import { type ContainerState, EXEC_FIFO, StateStore, recordConfig } from '../state/store.js';
import { stopHelper } from '../network/helper.js';
import { networkRequest } from '../network/options.js';
import { type NetworkPlan, connectNetwork, planNetwork } from '../network/setup.js';
import { HookStateFiles, type WarnOption, hasContainerHooks, hookInput, runHooks, stderrWarn } from './hooks.js';
import { startContainer } from './launcher.js';
import { type Teardown, handOver, monitorImage } from './monitor.js';
import { writeFrontRecord } from '../state/front-record.js';
import { forwardSignals } from './signals.js';
import { execImage } from './execimage.js';
import { native } from './native.js';
import { SECCOMP_CACHE, seccompCompiler, sendSeccompFd } from './seccomp.js';
import { ConsoleMaster, checkConsoleSocket, sendConsole } from './terminal.js';

export interface RunOptions extends WarnOption {
  id: string;
  bundle: string;
  stateRoot: string;
  pidFile?: string;
  /** Fds 3..3+N-1 of this process go on to the container's process (--preserve-fds,
   * LISTEN_FDS): the embedder's to check that they are all meant for it, for Node's own
   * (event loop, self-pipes) sit in the lowest free numbers. */
  preserveFds?: number;
  /** Foreground run: leave the state and cgroup after the exit (runc run --keep). */
  keep?: boolean;
  /** MS_MOVE + chroot instead of pivot_root (runc --no-pivot). */
  noPivot?: boolean;
  /** Keep the caller's session keyring (runc --no-new-keyring). */
  noNewKeyring?: boolean;
  /** Run without limits the host cannot apply (rootless without delegation) instead of failing. */
  ignoreCgroupLimits?: boolean;
  /** --systemd-cgroup: systemd creates the cgroup as a transient unit (lib/cgroups/systemd.ts). */
  systemdCgroup?: boolean;
  /** --console-socket: where the pty master of process.terminal goes (terminal.ts). */
  consoleSocket?: string;
  /** --network and --publish of `run` (lib/network/options.ts); the config's annotations
   * decide what they leave out. */
  network?: { network?: string; publish?: readonly string[] };
  /** Called with --debug notes (e.g. "added a user namespace"). */
  debug?: (line: string) => void;
  /** The config's process as read, which `exec` starts from, when the spec's carries what is
   * the init's alone (LISTEN_FDS): recorded in the state (ContainerState.config). */
  execProcess?: Process;
  /** A plain bundle start from the command line: compile it for the native runner
   * (lib/compiled); `drop` when the runner failed with its entry (LAUNCH_COMPILED). */
  compiled?: { words: LookupWords; drop: boolean };
  /** Foreground run: pass the signals a shell sends (signals.ts FORWARDED) on to the
   * container's process. Default true; a program embedding launch (lib/index.ts) keeps its
   * own signals unless it asks. */
  forwardSignals?: boolean;
  /** Foreground run: once the process runs, this process becomes the native monitor
   * (monitor.ts), which waits and tears down in its place. Default true: the command line's
   * pid is the container's stand-in; a program embedding launch must stay itself (false). */
  monitor?: boolean;
}

const hasAnyHooks = (spec: Spec): boolean => Object.values(spec.hooks ?? {}).some((h) => Array.isArray(h) && h.length > 0);

function compileAfter(prepared: Prepared, opts: RunOptions): void {
  if (!opts.compiled) return;
  const said = storeCompiled(opts.stateRoot, prepared.compileInput(opts.compiled.words), opts.compiled.drop);
  opts.debug?.(`compiled bundle: ${said}`);
}


export function writePidFile(file: string, pid: number): void {
  const abs = resolve(file);
  const tmp = join(dirname(abs), `.${process.pid}.pid.tmp`);
  try {
    // 'wx' (O_EXCL): the name is predictable, and in a directory others may write in, a
    // symlink planted there would have us write over whatever it names (runc: O_EXCL too).
    writeFileSync(tmp, String(pid), { flag: 'wx' });
    renameSync(tmp, abs);
  } catch (err) {
    throw fromNodeError('usage', 'cannot write the pid file', err, { file: abs });
  }
}

interface Prepared {
  plan: Plan;
  /** encodePlan(plan.ops): what the child runs. */
  planBytes: Buffer;
  host: HostFacts;
  /** At the child's first sync: put it in its cgroup, write the state and the pid file. */
  record(pid: number, status: ContainerState['status']): Promise<void>;
  /** Remove what prepare and record made: cgroup (or systemd unit) and state; poststop
   * hooks first when the container existed. */
  teardown(): Promise<void>;
  /** prestart and createRuntime (a failure throws), at the child's STAGE.HOOKS. */
  runtimeHooks(): Promise<void>;
  /** poststart, once the process runs (failures are warnings). */
  poststart(): Promise<void>;
  /** linux.seccomp's notify fd, to the listener (lib/runtime/seccomp.ts). */
  onSeccomp(fd: number): void;
  /** Close launch's copies of the fds the child inherited (the hooks' state files). */
  closeFds(): void;
  /** The teardown as the native monitor does it, or undefined when it needs Node (the
   * systemd driver stops its unit over D-Bus). */
  nativeTeardown(): Teardown | undefined;
  /** What lib/compiled needs to make an entry of this start, once it has succeeded. */
  compileInput(words: LookupWords): CompileInput | undefined;
}

/** Everything before the clone: the state directory (claims the id), the cgroup with its
 * limits, the plan. On failure nothing is left behind. */
async function prepare(given: Spec, opts: RunOptions, extra: { dieWithParent: boolean; verb: 'run' | 'create'; waitStart?: (stateDir: string) => PlanOptions['waitStart'] }): Promise<Prepared> {
  // A start that will be compiled probes the host under the recorder (lib/compiled/facts.ts):
  // the entry's host facts are then what this planning saw, and the placeholder planning
  // (compile.ts) needs no probe of its own (one was ~6 ms of a cold create).
  // The caller's own cgroup is read with it: where the container's cgroup goes depends on it,
  // and a warm start from another cgroup must miss, not place the container by the old one.
  const probe = () => ({ host: probeHost(), selfCgroup: readFileSync('/proc/self/cgroup', 'utf8') });
  const probed = opts.compiled ? recordReads(probe) : { result: probe(), facts: [], unknown: [] };
  const { host, selfCgroup } = probed.result;
  const store = new StateStore(opts.stateRoot);
  store.claim(opts.id);
  const stateDir = store.dir(opts.id);
  const warn = opts.warn ?? stderrWarn;
  let spec = given;
  let network: NetworkPlan | undefined;
  let helperPid: number | undefined;
  const closeNetworkFds = () => network?.fds.splice(0).forEach((fd) => closeSync(fd));
  let cgroupDirs: string[] = [];
  let ownCgroups: string[] = []; // the container's own, below which it may have made more
  let systemd: import('../cgroups/systemd.js').SystemdDriver | undefined;
  let state: ContainerState | undefined;
  let hookFiles: HookStateFiles | undefined;
  const teardown = async () => {
    hookFiles?.close();
    // As runc's destroy: the process is gone, its resources not yet.
    // The network goes first, as podman's cleanup: nothing uses it any more.
    closeNetworkFds();
    if (network) stopHelper(stateDir);
    if (state) await runHooks(spec.hooks, 'poststop', { ...state, status: 'stopped' }, { warnOnly: true, warn });
    // The container has been reaped by now (on failure too): its cgroups are empty.
    const left = removeDirs(cgroupDirs, ownCgroups);
    if (left.length) opts.debug?.(`cgroups left behind (still in use): ${left.join(', ')}`);
    await systemd?.stop();
    store.remove(opts.id);
  };
  try {
    network = planNetwork(spec, networkRequest(spec, opts.network ?? {}), extra.verb, stateDir, { openTree: openTreeOf });
    spec = network.spec;
    for (const note of network.decision.notes) opts.debug?.(note);
    if (network.decision.warning) warn(`launch: warning: ${extra.verb} ${opts.id}: ${network.decision.warning}`);
    // --systemd-cgroup: checked and connected now, the unit is made with the init in it below.
    if (opts.systemdCgroup) systemd = await (await import('../cgroups/systemd.js')).systemdDriver(spec, opts.id, { uid: host.uid, cgroupVersion: host.cgroupVersion, debug: opts.debug });
    const cgroupFor = (id: string) => (systemd ? undefined : planCgroup(spec, id, { uid: host.uid, rootless: host.rootless, version: host.cgroupVersion, mount: '/sys/fs/cgroup', selfCgroup, ignoreLimits: opts.ignoreCgroupLimits }));
    const cgroup = cgroupFor(opts.id);
    if (!cgroup && !systemd && opts.ignoreCgroupLimits && wantsLimits(spec, host.cgroupVersion)) opts.debug?.('linux.resources: not applied (--ignore-cgroup-limits)');
    if (cgroup) {
      const resources = spec.linux?.resources ?? {};
      const dropped = ignoredFields(resources, cgroup.version);
      if (cgroup.version === 2 && resources.devices && !cgroup.deviceFilter) dropped.push('linux.resources.devices as an eBPF filter (it needs root; rootless, only the device nodes the rules allow are bound in)');
      for (const f of dropped) opts.debug?.(`${f}: not applied on cgroup v${cgroup.version}`);
    }
    // Limits are in place before the container exists; it joins while it waits at its sync.
    if (cgroup) {
      cgroupDirs = createCgroup(cgroup, (dirs) => store.recordCgroups(opts.id, dirs));
      ownCgroups = Object.values(cgroup.dirs);
      warnShared(cgroup, cgroupDirs, `${extra.verb} ${opts.id}`, warn);
    }
    if (hasContainerHooks(spec.hooks)) hookFiles = new HookStateFiles(store.dir(opts.id));
    const waitStart = extra.waitStart?.(store.dir(opts.id));
    const net = network;
    const planFor = (id: string, cg: CgroupPlan | undefined): Plan =>
      buildPlan(spec, {
        bundle: opts.bundle,
        host,
        dieWithParent: extra.dieWithParent,
        waitStart,
        preserveFds: opts.preserveFds,
        noPivot: opts.noPivot,
        // As runc: a session keyring of the container's own, unless --no-new-keyring.
        sessionKeyring: opts.noNewKeyring ? undefined : `_ses.${id}`,
        hookStateFds: hookFiles?.fds,
        cgroupV1: host.cgroupVersion === 1 ? v1Hierarchies(selfCgroup, cg, '/sys/fs/cgroup') : undefined,
        seccomp: seccompCompiler(join(opts.stateRoot, SECCOMP_CACHE)),
        execImage: execImage(),
        // The helper is handed the init's namespaces at its first sync.
        openNamespaces: net.decision.program !== undefined,
        treeSources: net.treeSources,
      });
    const plan = planFor(opts.id, cgroup);
    const planBytes = encodePlan(plan.ops);
    for (const note of plan.notes) opts.debug?.(note);
    let frontWritten = false;
    const record = async (pid: number, status: ContainerState['status']) => {
      if (!state) {
        if (cgroup) joinCgroup(cgroup, pid);
        helperPid = await connectNetwork(network!.decision, pid, { stateDir, userns: () => ownUserns(pid) });
        const where = systemd ? await systemd.start(pid) : cgroup && { version: cgroup.version, dirs: cgroup.dirs, created: cgroupDirs };
        const ns = where ? ownNamespace(spec, pid) : undefined;
        state = {
          ociVersion: spec.ociVersion ?? '1.2.0',
          id: opts.id,
          status,
          pid,
          started: processStartTime(pid),
          created: new Date().toISOString(),
          rootfs: resolve(opts.bundle, spec.root?.path ?? 'rootfs'),
          bundle: opts.bundle,
          annotations: spec.annotations,
          ...(where ? { cgroup: where } : {}),
          ...(ns ? { ns } : {}),
          ...(spec.linux?.seccomp ? { seccomp: spec.linux.seccomp } : {}),
          config: recordConfig(spec, opts.execProcess ?? spec.process),
        };
        if (opts.pidFile) writePidFile(opts.pidFile, pid);
        hookFiles?.write(state);
      }
      state.status = status;
      store.write(state);
      // Once created (or running, for a foreground run): what the native front reads.
      if (status !== 'creating' && !frontWritten) {
        writeFrontRecord(stateDir, state);
        frontWritten = true;
      }
    };
    const runtimeHooks = async () => {
      const creating = { ...state!, status: 'creating' as const };
      await runHooks(spec.hooks, 'prestart', creating);
      await runHooks(spec.hooks, 'createRuntime', creating);
    };
    const poststart = () => runHooks(spec.hooks, 'poststart', { ...state!, status: 'running' }, { warnOnly: true, warn });
    const nativeTeardown = (): Teardown | undefined =>
      systemd || !state
        ? undefined
        : {
            poststop: { hooks: spec.hooks?.poststop ?? [], state: hookInput({ ...state, status: 'stopped' }) },
            rmdirs: [...cgroupDirs].reverse(),
            own: ownCgroups,
            stateDir,
            ...(helperPid ? { stopPid: helperPid } : {}),
          };
    // A notify fd arrives after the first sync: the state (status `creating`) exists by then.
    const onSeccomp = (fd: number) => sendSeccompFd(plan.seccompListener!, fd, { ...state!, status: 'creating' });
    const closeFds = () => {
      hookFiles?.close();
      closeNetworkFds();
    };
    // What the native runner cannot replay: then this start stays Node's every time.
    const refusals = [
      ...(hasAnyHooks(spec) ? ['the config has hooks'] : []),
      ...(systemd ? ['--systemd-cgroup'] : []),
      ...(network.decision.program !== undefined || network.fds.length || network.treeSources?.size ? ['a network helper'] : []),
      // Decided by /dev/net/tun, which no fact holds: a replay would neither warn again nor
      // give the network once the user has run the fix.
      ...(network.decision.warning ? ['a network that fell back to loopback only'] : []),
      ...(spec.process?.terminal || opts.consoleSocket ? ['a terminal'] : []),
      ...(plan.seccompListener ? ['a seccomp listener'] : []),
      ...(plan.pidnsPath ? ['a pid namespace to join'] : []),
      ...(opts.preserveFds ? ['fds passed on'] : []),
      ...(spec.linux?.cgroupsPath ? ['linux.cgroupsPath (a shared cgroup is checked at each start)'] : []),
      ...(opts.execProcess && opts.execProcess !== spec.process ? ['LISTEN_FDS'] : []),
    ];
    const compileInput = (words: LookupWords): CompileInput | undefined =>
      state && { words, spec, host, hostProbe: probed, plan, planBytes, cgroup, state, stateDir, planFor, cgroupFor, refusals, buildFiles };
    return { plan, planBytes, host, record, teardown, runtimeHooks, poststart, onSeccomp, closeFds, nativeTeardown, compileInput };
  } catch (err) {
    await teardown();
    throw err;
  }
}

function openTreeOf(path: string): number {
  try {
    return native().openTree(path);
  } catch (err) {
    throw fromNodeError('host', 'cannot clone the mount of', err, { file: path });
  }
}

/** The init is in a user namespace other than launch's: a network helper must join it too. */
function ownUserns(pid: number): boolean {
  try {
    return readlinkSync(`/proc/${pid}/ns/user`) !== readlinkSync('/proc/self/ns/user');
  } catch (err) {
    throw fromNodeError('host', "cannot read the container's user namespace", err, { file: `/proc/${pid}/ns/user` });
  }
}

export async function runForeground(spec: Spec, opts: RunOptions): Promise<number> {
  checkConsoleSocket(spec.process?.terminal, opts.consoleSocket);
  const prepared = await prepare(spec, opts, { dieWithParent: true, verb: 'run' });
  const { plan, host } = prepared;
  const terminal = Boolean(spec.process?.terminal);
  const pty = new ConsoleMaster(opts.consoleSocket);
  // Before the clone: a signal that arrives while the container starts (it may print
  // "ready" before we get here) is held and delivered once it has a pid. SIGWINCH is the
  // terminal's business (the relay, or whoever holds the console socket's master).
  const forwarder = opts.forwardSignals === false ? undefined : forwardSignals({ terminal });
  let kept = false;
  try {
    const started = await startContainer(plan, {
      host,
      planBytes: prepared.planBytes,
      beforeRelease: (pid) => prepared.record(pid, 'running'),
      runtimeHooks: () => prepared.runtimeHooks(),
      onConsole: (fd) => pty.take(fd),
      onSeccomp: (fd) => prepared.onSeccomp(fd),
    });
    prepared.closeFds();
    forwarder?.attach(started);
    await prepared.poststart();
    compileAfter(prepared, opts);
    // From here on launch only waits: the monitor does that in our pid with a fraction of the
    // memory (monitor.ts). With --keep there is nothing to tear down; when the teardown needs
    // Node (systemd), or there is no monitor, launch waits itself.
    const image = opts.monitor === false ? undefined : monitorImage();
    const teardown = opts.keep ? undefined : prepared.nativeTeardown();
    // Not once the exit has been seen here: the process is reaped, its status is ours.
    if (image && (opts.keep || teardown) && !started.exitStatus) {
      const failed = handOver(image, { pidfd: started.pidfd, forward: forwarder?.signals ?? [], ptyMaster: pty.master, teardown });
      opts.debug?.(`the monitor did not start, launch waits itself: ${String(failed)}`);
    }
    const relay = pty.relay();
    const status = await started.exited;
    await relay?.done();
    started.release();
    // --keep: the stopped container stays (state, cgroup) until `launch delete`, as runc's.
    kept = Boolean(opts.keep);
    return status.signal ? 128 + status.signal : (status.code ?? 125);
  } finally {
    pty.close();
    forwarder?.dispose();
    if (!kept) await prepared.teardown();
  }
}

/** `run --detach` (the container runs on once its exec succeeded) and `create` (it waits at
 * the exec FIFO for `launch start`). launch exits either way; the container's cgroup and
 * state stay until `launch delete`, as runc's. */
export async function runDetached(spec: Spec, opts: RunOptions & { create: boolean }): Promise<void> {
  checkConsoleSocket(spec.process?.terminal, opts.consoleSocket, opts.create ? '`create`' : '`run --detach`');
  let dirFd = -1;
  let prepared: Prepared | undefined;
  try {
    // The FIFO goes in the state directory once prepare has claimed it, before the plan that
    // names the directory's fd is built.
    prepared = await prepare(spec, opts, {
      dieWithParent: false,
      verb: opts.create ? 'create' : 'run',
      ...(opts.create ? { waitStart: (dir: string) => ({ dirFd: (dirFd = openFifoDir(dir)), fifo: EXEC_FIFO }) } : {}),
    });
    const p = prepared;
    await startContainer(p.plan, {
      host: p.host,
      planBytes: p.planBytes,
      watch: false,
      // Straight on to the socket (while `create` still waits for `start`), as runc.
      onConsole: (fd) => sendConsole(opts.consoleSocket!, fd),
      onSeccomp: (fd) => p.onSeccomp(fd),
      beforeRelease: (pid) => p.record(pid, opts.create ? 'creating' : 'running'),
      runtimeHooks: () => p.runtimeHooks(),
      ...(opts.create ? { onCreated: (pid: number) => void p.record(pid, 'created') } : {}),
    });
    // `create`: poststart is `launch start`'s.
    if (!opts.create) await p.poststart();
    compileAfter(p, opts);
  } catch (err) {
    await prepared?.teardown();
    throw err;
  } finally {
    prepared?.closeFds();
    if (dirFd >= 0) closeSync(dirFd);
  }
}

/** Make the exec FIFO in the (already claimed) state directory, and open that directory. */
function openFifoDir(dir: string): number {
  const fifo = join(dir, EXEC_FIFO);
  // Writable by anyone: the container's init may run as another uid (a user namespace's
  // root, a process.user) and opens it through the directory fd, which ends at its exec.
  const errno = native().mkfifo(fifo, 0o622);
  if (errno) throw hostError('cannot make the exec FIFO', { file: fifo, errno });
  chmodSync(fifo, 0o622);
  // The init opens it after dropping to process.user: it must be able to look it up in the
  // directory (search only: state.json stays 0600).
  chmodSync(dir, 0o711);
  try {
    return openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
  } catch (err) {
    throw fromNodeError('state', 'cannot open the state directory', err, { file: dir });
  }
}
