// <root>/<id>/state.json: one directory per container. The directory's creation (mkdir, which
// fails when it exists) is what makes an id taken, so two starts of one id cannot both win.
import { closeSync, constants, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { native } from '../runtime/native.js';
import { join } from 'node:path';
import { fromNodeError, stateError, usageError } from '../errors.js';
import { inUserNamespace, readText } from '../host.js';
import type { Hooks, Process, Seccomp, Spec } from '../spec/schema.js';

const LOCK_EX = 2;

export interface ContainerState {
  ociVersion: string;
  id: string;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
  /** launch's own records, not part of the OCI state: the init's start time (pid reuse)
   * and where the container's cgroup is. */
  started?: number;
  /** When the container was created (RFC 3339), and its root filesystem: for `list`. */
  created?: string;
  rootfs?: string;
  /** systemd: the transient unit when --systemd-cgroup made the cgroup (lib/cgroups/systemd.ts). */
  cgroup?: {
    version: 1 | 2;
    dirs: Record<string, string>;
    /** cgroupfs driver: the directories launch made, parents first; only these are removed at
     * delete. A dir of `dirs` missing here was there before (a shared linux.cgroupsPath), and
     * only the container's own processes in it are signalled (cgroups/members.ts). Absent in
     * states written before it existed, and with systemd: then `dirs` are launch's. */
    created?: string[];
    systemd?: { unit: string; user: boolean };
  };
  /** A namespace the container made rather than joined (pid, else mount), `readlink` of
   * /proc/<init>/ns/<type>: what tells its processes from others in a shared cgroup. */
  ns?: { type: 'pid' | 'mnt'; link: string };
  /** The config's linux.seccomp, for `exec` (its processes are confined as the init is, even
   * if config.json changes or goes away). */
  seccomp?: Seccomp;
  /** What the verbs after `create` take from the config, as it was at create: config.json may
   * be edited, moved or removed since (by whoever owns the bundle), and `start` and `delete`
   * run these hooks as launch's user, root included. Never read from the bundle again. */
  config?: RecordedConfig;
}

/** The parts of the config that verbs after `create` act on (ContainerState.config). */
export interface RecordedConfig {
  /** poststart (`start`), poststop (`delete`), startContainer (to word `start`'s errors). */
  hooks?: Hooks;
  /** What `exec` starts from without --process (runc: the config's process). */
  process?: Process;
  /** linux.resources.memory.checkBeforeUpdate, for `update`. */
  checkBeforeUpdate?: boolean;
}

/** RecordedConfig of a config; the exec base is the config's own process (without what the
 * runtime added for the init alone, e.g. LISTEN_FDS), when given. */
export function recordConfig(spec: Pick<Spec, 'hooks' | 'process' | 'linux'>, execBase = spec.process): RecordedConfig {
  return {
    ...(spec.hooks ? { hooks: spec.hooks } : {}),
    ...(execBase ? { process: execBase } : {}),
    ...(spec.linux?.resources?.memory?.checkBeforeUpdate ? { checkBeforeUpdate: true } : {}),
  };
}

/** The state runtime.md defines: what `launch state` prints and hooks read on stdin. */
export interface OciState {
  ociVersion: string;
  id: string;
  status: ContainerState['status'];
  /** The init's host pid; absent once the container has stopped. */
  pid?: number;
  bundle: string;
  annotations?: Record<string, string>;
}

/** Exactly the state runtime.md defines, as `launch state` prints it and hooks read it. */
export function ociState(s: ContainerState): OciState {
  return {
    ociVersion: s.ociVersion,
    id: s.id,
    status: s.status,
    ...(s.pid !== undefined && s.status !== 'stopped' ? { pid: s.pid } : {}),
    bundle: s.bundle,
    ...(s.annotations ? { annotations: s.annotations } : {}),
  };
}

/** The cgroups a start meant to make (StateStore.recordCgroups). */
const CGROUPS_FILE = 'cgroups.json';

/** In a created container's state directory: its init waits to open it (launch start). */
export const EXEC_FIFO = 'exec.fifo';

/** The last resort of a user without $XDG_RUNTIME_DIR or /run/user/<uid>: in /tmp, where any
 * user may make it first (checkRoot then refuses it and says what to do). */
export const tmpRoot = (uid: number): string => `/tmp/launch-${uid}`;

/** A directory only `uid` can write in: its own, not a symlink, not group/other writable. */
function ownPrivateDir(path: string, uid: number): boolean {
  try {
    const st = lstatSync(path);
    return st.isDirectory() && st.uid === uid && (st.mode & 0o022) === 0;
  } catch {
    return false;
  }
}

/** As runc: /run/launch for root of the initial user namespace; otherwise (an ordinary user,
 * or uid 0 in rootless podman's user namespace) $XDG_RUNTIME_DIR/launch. Without it, the
 * user's /run/user/<uid> (pam_systemd's, which nobody else can make) when it is theirs; /tmp
 * only last: runc fails there (it tries /run/runc), but a user without a login session
 * (su, cron, a container's own uid 0) still gets a root that works unless another made it. */
export function defaultRoot(env: NodeJS.ProcessEnv, uid: number, inUserns = false, isOwnDir = ownPrivateDir): string {
  if (uid === 0 && !inUserns) return '/run/launch';
  if (env.XDG_RUNTIME_DIR) return join(env.XDG_RUNTIME_DIR, 'launch');
  const run = `/run/user/${uid}`;
  if (isOwnDir(run, uid)) return join(run, 'launch');
  return tmpRoot(uid);
}

/** defaultRoot for this process (its environment, uid and user namespace), read when called:
 * the one rule for the command line's --root and the library's defaultStateRoot(), which
 * must agree or the two would not see each other's containers. */
export function processDefaultRoot(): string {
  const uid = process.getuid!();
  return defaultRoot(process.env, uid, uid === 0 && inUserNamespace());
}

/** `uid 65534, nobody`, or `uid 65534` when it has no passwd entry. */
function ownerName(uid: number): string {
  const entry = readText('/etc/passwd').split('\n').find((l) => l.split(':')[2] === String(uid));
  return entry ? `uid ${uid}, ${entry.split(':')[0]}` : `uid ${uid}`;
}

/** runc's rule: letters, digits and `_+-.`, not starting with a dot; never `/` or `..`. */
export function validateId(id: string): void {
  if (!/^[A-Za-z0-9_+\-][A-Za-z0-9_+\-.]*$/.test(id) || id.length > 1024) {
    throw usageError(`invalid container id \`${id}\` (letters, digits and _+-. only, not starting with a dot)`);
  }
}

export class StateStore {
  private trusted = false;

  constructor(readonly root: string) {}

  private ensureRoot(): void {
    try {
      mkdirSync(this.root, { recursive: true, mode: 0o700 });
    } catch (err) {
      // Another user's dangling symlink or file in /tmp: say whose, and what to do instead.
      if (this.root === tmpRoot(process.getuid!())) this.checkRoot();
      throw fromNodeError('state', 'cannot create the state root', err, { file: this.root });
    }
    this.checkRoot();
  }

  /** What is in the root is acted on (delete runs the poststop hooks of the bundle a state.json
   * names and kills its pid; exec joins that pid's namespaces): it is trusted only when it is
   * ours and nobody else may write in it, where another user could plant a container.
   * Checked before the first use of every id, by reads too; an absent root holds nothing. */
  private checkRoot(): void {
    if (this.trusted) return;
    let st;
    try {
      st = lstatSync(this.root);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw fromNodeError('state', 'cannot read the state root', err, { file: this.root });
    }
    const uid = process.getuid!();
    // In /tmp anyone may make the default root first, to stop every verb of this user (or, were
    // it used, to plant containers): the line says so and how to get a root of one's own.
    const fix = this.root === tmpRoot(uid) ? '; set XDG_RUNTIME_DIR or pass --root to use a directory of your own instead of' : '';
    if (!st.isDirectory()) throw stateError(`state root is not a directory${fix}`, { file: this.root });
    if (st.uid !== uid) throw stateError(`state root belongs to another user (${ownerName(st.uid)})${fix}`, { file: this.root });
    if (st.mode & 0o022) throw stateError(`state root is writable by others (mode ${(st.mode & 0o7777).toString(8).padStart(4, '0')})${fix}`, { file: this.root });
    this.trusted = true;
  }

  dir(id: string): string {
    validateId(id);
    this.checkRoot();
    return join(this.root, id);
  }

  /** Claim the id. Throws when a container of that id exists. */
  claim(id: string): void {
    this.ensureRoot();
    const dir = this.dir(id);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
        throw stateError(`container \`${id}\` already exists`, { file: dir, exitCode: 125 });
      }
      throw fromNodeError('state', 'cannot create the state directory', err, { file: dir });
    }
  }

  /** Take the container's lock (flock on its state directory), held until the returned
   * release or launch's exit: the verbs that change an existing container (start, delete,
   * kill, pause, resume, update) run one at a time per id, so a `start` and a `delete` of one
   * container cannot interleave. Not taken by create/run/exec: their children inherit fds,
   * and a waiting init would hold the lock. */
  lock(id: string): () => void {
    const dir = this.dir(id);
    let fd: number;
    try {
      fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw stateError(`container \`${id}\` does not exist`, { file: dir });
      throw fromNodeError('state', 'cannot open the state directory', err, { file: dir });
    }
    const errno = native().flock(fd, LOCK_EX);
    if (errno) {
      closeSync(fd);
      throw stateError('cannot lock the container', { file: dir, errno });
    }
    return () => closeSync(fd);
  }

  write(state: ContainerState): void {
    const dir = this.dir(state.id);
    const tmp = join(dir, `.state.json.${process.pid}`);
    try {
      writeFileSync(tmp, JSON.stringify(state), { mode: 0o600 });
      renameSync(tmp, join(dir, 'state.json'));
    } catch (err) {
      throw fromNodeError('state', 'cannot write the state', err, { file: join(dir, 'state.json') });
    }
  }

  /** The cgroups a start is about to make, written before it makes them: if launch is killed
   * before its state exists, `delete --force` still knows what to remove. */
  recordCgroups(id: string, dirs: readonly string[]): void {
    const file = join(this.dir(id), CGROUPS_FILE);
    try {
      writeFileSync(file, JSON.stringify(dirs), { mode: 0o600 });
    } catch (err) {
      throw fromNodeError('state', 'cannot write the state', err, { file });
    }
  }

  /** What recordCgroups wrote; [] when nothing was (or the file is unreadable). */
  recordedCgroups(id: string): string[] {
    try {
      const dirs: unknown = JSON.parse(readFileSync(join(this.dir(id), CGROUPS_FILE), 'utf8'));
      return Array.isArray(dirs) ? dirs.filter((d): d is string => typeof d === 'string' && d.startsWith('/sys/fs/cgroup/')) : [];
    } catch {
      return [];
    }
  }

  /** The state as recorded, but for one rule every reader (and the native front, addon/front
   * verbs.c status_of) follows: a created container whose exec FIFO is gone has been started.
   * The front's `start` removes the FIFO and does not rewrite state.json. */
  read(id: string): ContainerState {
    const dir = this.dir(id);
    const file = join(dir, 'state.json');
    try {
      const state = JSON.parse(readFileSync(file, 'utf8')) as ContainerState;
      if (state.status === 'created' && !existsSync(join(dir, EXEC_FIFO))) state.status = 'running';
      return state;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw stateError(`container \`${id}\` does not exist`, { file });
      }
      throw fromNodeError('state', 'cannot read the state', err, { file });
    }
  }

  list(): string[] {
    this.checkRoot();
    try {
      return readdirSync(this.root).filter((n) => !n.startsWith('.'));
    } catch {
      return [];
    }
  }

  remove(id: string): void {
    const dir = this.dir(id);
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      throw fromNodeError('state', 'cannot remove the state directory', err, { file: dir });
    }
  }
}
