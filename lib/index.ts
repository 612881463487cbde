// launch as a library: `import { create, start, state, kill, deleteContainer } from 'launch'`.
// A thin, typed facade over the modules the command line calls too (lib/lifecycle,
// lib/runtime/run.ts, lib/image), so both share the locking, state transitions, hooks and
// teardown. Each function takes one options object; `root` is the state root (--root), by
// default the command line's (/run/launch as root, else $XDG_RUNTIME_DIR/launch), so the CLI
// and a program see the same containers.
//
// Failures are LaunchErrors (kind, code, configPath, file, errno), with `context` set to the
// verb and id ("create web"); formatError() gives the line the command line prints.
//
// A container's stdio is this process's fds 0-2, as a container started by `launch` has its
// caller's. Nothing here reads the environment or loads the addon at import time.
import { join, resolve } from 'node:path';
import { LaunchError } from './errors.js';
import type { ContainerSummary } from './lifecycle/list.js';
import type { ImageSummary } from './image/catalog.js';
import type { Spec } from './spec/schema.js';
import type { OciState } from './state/store.js';
import type { WarnOption } from './runtime/hooks.js';

export { LaunchError, formatError, type ErrorKind } from './errors.js';
export type { Spec } from './spec/schema.js';
export type { OciState } from './state/store.js';
export type { ContainerSummary } from './lifecycle/list.js';
export type { ImageSummary } from './image/catalog.js';
export type { WarnOption } from './runtime/hooks.js';

/** Where containers' state is kept. */
export interface RootOption {
  /** The state root (--root); by default the command line's (defaultStateRoot()). */
  root?: string;
}

/** Names one container under a state root. */
export interface ContainerOptions extends RootOption {
  id: string;
}


/** The state root the command line uses when --root is not given. */
export async function defaultStateRoot(): Promise<string> {
  return (await import('./state/store.js')).processDefaultRoot();
}

const rootOf = async (o: RootOption): Promise<string> => o.root ?? (await defaultStateRoot());

/** Run `fn`; a LaunchError it throws says which verb and container it came from, as the
 * command line's do (`launch: start web: ...`). */
async function as<T>(context: string, fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof LaunchError && !err.context) err.context = context;
    throw err;
  }
}

// --- configs ---------------------------------------------------------------------------

/** Read and validate `<bundle>/config.json` (the OCI runtime-spec config). A failure names
 * the file and, for a schema failure, the config path of the first problem
 * (`linux.uidMappings[0].size`). */
export async function loadConfig(bundle: string): Promise<Spec> {
  const { loadSpec } = await import('./spec/load.js');
  return loadSpec(bundle);
}

/** Validate a config already parsed (or built in code); `file` is how errors name it. Unknown
 * fields are kept. */
export async function validateConfig(config: unknown, file = 'config.json'): Promise<Spec> {
  const { parseSpec } = await import('./spec/load.js');
  return parseSpec(config, file);
}

/** What `launch spec [--rootless]` writes: a config for `args` (default ["sh"]), rootless with
 * the caller's own ids mapped to root. */
export async function defaultConfig(o: { rootless: boolean; args?: string[] }): Promise<Spec> {
  const { defaultSpec } = await import('./spec/generate.js');
  return defaultSpec({ rootless: o.rootless, ...(o.args ? { args: o.args } : {}) });
}

// --- containers ------------------------------------------------------------------------

export interface CreateOptions extends ContainerOptions, WarnOption {
  /** The bundle directory: its config.json (unless `config`) and the root it names. */
  bundle: string;
  /** The config to use instead of `<bundle>/config.json`; validated as loadConfig would. */
  config?: unknown;
  /** Write the init's pid there (--pid-file). */
  pidFile?: string;
  /** process.terminal: the AF_UNIX socket the pty master is sent to (--console-socket);
   * `create` needs one for a terminal, `run` relays to this process's stdio without. */
  consoleSocket?: string;
  /** Pass fds 3..3+N-1 of this process on to the container's process (--preserve-fds). */
  preserveFds?: number;
  /** MS_MOVE and chroot instead of pivot_root (--no-pivot). */
  noPivot?: boolean;
  /** Keep this process's session keyring (--no-new-keyring). */
  noNewKeyring?: boolean;
  /** Run without the limits the host cannot apply (rootless without delegation). */
  ignoreCgroupLimits?: boolean;
  /** The cgroup is a transient systemd unit (--systemd-cgroup). */
  systemdCgroup?: boolean;
  /** --debug notes, one line each. */
  debug?: (line: string) => void;
}

export interface RunOptions extends CreateOptions {
  /** Leave the stopped container (state, cgroup) for state() and deleteContainer() (--keep). */
  keep?: boolean;
  /** Pass SIGINT, SIGTERM, SIGHUP... this process receives on to the container while it
   * runs, as `launch run` does; by default this process keeps its own signal handling. */
  forwardSignals?: boolean;
  /** --network and --publish (lib/network/options.ts). */
  network?: { network?: string; publish?: string[] };
}

async function runOptions(o: CreateOptions) {
  const bundle = resolve(o.bundle);
  const spec = o.config === undefined ? await loadConfig(bundle) : await validateConfig(o.config, join(bundle, 'config.json'));
  return {
    spec,
    opts: {
      id: o.id,
      bundle,
      stateRoot: await rootOf(o),
      pidFile: o.pidFile,
      consoleSocket: o.consoleSocket,
      preserveFds: o.preserveFds,
      noPivot: o.noPivot,
      noNewKeyring: o.noNewKeyring,
      ignoreCgroupLimits: o.ignoreCgroupLimits,
      systemdCgroup: o.systemdCgroup,
      debug: o.debug,
      warn: o.warn,
    },
  };
}

/** Create the container (`launch create`): its init is set up and waits for start(). The
 * container outlives this call (and this process); its state stays until deleteContainer(). */
export function create(o: CreateOptions): Promise<void> {
  return as(`create ${o.id}`, async () => {
    const { runDetached } = await import('./runtime/run.js');
    const { spec, opts } = await runOptions(o);
    await runDetached(spec, { ...opts, create: true });
  });
}

/** Run the container in the foreground (`launch run`) and wait for it: its exit code, or
 * 128+N when signal N ended it. Its state is removed afterwards unless `keep`. This process
 * stays itself meanwhile (the command line hands over to its native monitor instead). */
export function run(o: RunOptions): Promise<number> {
  return as(`run ${o.id}`, async () => {
    const { runForeground } = await import('./runtime/run.js');
    const { spec, opts } = await runOptions(o);
    return runForeground(spec, {
      ...opts,
      keep: o.keep,
      network: o.network ?? { publish: [] },
      forwardSignals: o.forwardSignals === true,
      monitor: false,
    });
  });
}

export interface StartOptions extends ContainerOptions, WarnOption {}

/** Start a created container (`launch start`): returns once its process has been exec'ed
 * and the poststart hooks have run (a failed one is a warning). */
export function start(o: StartOptions): Promise<void> {
  return as(`start ${o.id}`, async () => {
    const lifecycle = await import('./lifecycle/start.js');
    lifecycle.start({ root: await rootOf(o), id: o.id, warn: o.warn });
  });
}

/** The container's OCI state as it is now (`launch state`): status creating, created,
 * running, paused or stopped. */
export function state(o: ContainerOptions): Promise<OciState> {
  return as(`state ${o.id}`, async () => (await import('./lifecycle/state.js')).ociStateOf(await rootOf(o), o.id));
}

export interface KillOptions extends ContainerOptions {
  /** A name (TERM, SIGKILL) or number; SIGTERM by default. */
  signal?: string | number;
  /** Every process of the container, not only its init (--all). */
  all?: boolean;
}

/** Send a signal to the container (`launch kill`). */
export function kill(o: KillOptions): Promise<void> {
  return as(`kill ${o.id}`, async () => {
    const lifecycle = await import('./lifecycle/kill.js');
    lifecycle.kill({ root: await rootOf(o), id: o.id, signal: o.signal, all: o.all });
  });
}

export interface DeleteOptions extends ContainerOptions, WarnOption {
  /** Kill it first if it still runs; no error when it does not exist (--force). */
  force?: boolean;
}

/** Remove a stopped (or created) container: poststop hooks, cgroup, state (`launch delete`).
 * Also exported as `delete`, for `import * as launch` and launch.delete(). */
export function deleteContainer(o: DeleteOptions): Promise<void> {
  return as(`delete ${o.id}`, async () => {
    const lifecycle = await import('./lifecycle/delete.js');
    await lifecycle.deleteContainer({ root: await rootOf(o), id: o.id, force: o.force === true, warn: o.warn });
  });
}
export { deleteContainer as delete };

/** Freeze every process of a running container (`launch pause`). */
export function pause(o: ContainerOptions): Promise<void> {
  return as(`pause ${o.id}`, async () => (await import('./lifecycle/pause.js')).pause({ root: await rootOf(o), id: o.id }));
}

/** Thaw a paused container (`launch resume`). */
export function resume(o: ContainerOptions): Promise<void> {
  return as(`resume ${o.id}`, async () => (await import('./lifecycle/pause.js')).resume({ root: await rootOf(o), id: o.id }));
}

/** The containers under the state root (`launch list`). */
export function list(o: RootOption = {}): Promise<ContainerSummary[]> {
  return as('list', async () => (await import('./lifecycle/list.js')).list(await rootOf(o)));
}

// --- images ----------------------------------------------------------------------------

export interface ImageOptions {
  /** The image store (--store); by default $LAUNCH_STORE, /var/lib/launch as root, else
   * $XDG_DATA_HOME/launch. */
  store?: string;
  /** false: plain HTTP and unverified certificates for the registry (--tls-verify=false). */
  tlsVerify?: boolean;
  /** Notes for the user (what the command line prints as `launch: note: ...`). */
  note?: (msg: string) => void;
  /** Where a pull draws progress bars (a terminal only), e.g. process.stderr; none by default. */
  progress?: NodeJS.WriteStream;
}

/** Pull a registry image (`launch pull`, REF or docker://REF) into the store: its name there
 * (the canonical reference) and its config digest (the image id). */
export function pull(o: ImageOptions & { ref: string }): Promise<{ name: string; configDigest: string }> {
  return as('pull', async () => {
    const { openStore, pullInto } = await import('./image/locate.js');
    const ref = o.ref.startsWith('docker://') ? o.ref.slice(9) : o.ref;
    const got = await pullInto(openStore(o), ref, o);
    return { name: got.name, configDigest: got.configDigest };
  });
}

/** Unpack an image into a new (or empty) bundle directory: rootfs/ and a config.json made from
 * the image's config (`launch unpack`). The image by any name `launch` takes: REF (pulled
 * when missing), docker://REF, oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE. */
export function unpack(o: ImageOptions & { image: string; bundle: string }): Promise<void> {
  return as('unpack', async () => (await import('./image/bundle.js')).unpackBundle(o));
}

/** The images in the store (`launch images`). */
export function images(o: ImageOptions = {}): Promise<ImageSummary[]> {
  return as('images', async () => (await import('./image/catalog.js')).listImages(o));
}
