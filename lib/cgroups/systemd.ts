// The systemd cgroup driver (`--systemd-cgroup`), as runc's: the container's cgroup is a
// transient unit that systemd creates, over D-Bus, in the slice `linux.cgroupsPath` names, and
// whatever systemd has no property for is then written through cgroupfs (apply.ts), as runc's
// systemd manager does after Apply. Runs in the launch process, while the container's init
// waits at its first sync (the unit is created *with* the init's pid: systemd refuses an empty
// scope). Root talks to the system instance; anyone else to their user instance
// (user@UID.service), through the session bus, as `runc --systemd-cgroup` rootless.
//
// Sources: runc docs/systemd.md; github.com/opencontainers/cgroups systemd/{common,v2,user}.go
// (runc >= 1.3; before, libcontainer/cgroups/systemd); runc libcontainer/specconv
// (initSystemdProps, the `slice:prefix:name` split); systemd.resource-control(5) and
// org.freedesktop.systemd1(5) for the property names and their D-Bus types.
//
// Where launch differs from runc, on purpose:
//   - The limits travel in StartTransientUnit itself, not in a SetUnitProperties call right
//     after it: one round trip fewer, and the unit never exists without them.
//   - blockIO.weight also becomes IOWeight (runc's v2 driver only writes io.weight): systemd
//     rewrites io.weight from its own property whenever it realizes the cgroup again (a
//     daemon-reload, a sibling changing controllers), so a cgroupfs-only value would not last.
//     The same reasoning gives MemorySwapMax=0 when memory.swap equals memory.limit ("no
//     swap"), where runc leaves systemd's default (infinity) in place.
//   - cgroup v1 is refused: the systemd driver here is for the unified hierarchy only.
//   - When the system bus is down, root falls back to systemd's private socket
//     (/run/systemd/private, as go-systemd does), and a user to $XDG_RUNTIME_DIR/systemd/private.
//   - linux.resources.devices is not turned into DevicePolicy=/DeviceAllow=: launch attaches
//     its own eBPF device filter to the unit's cgroup, as its cgroupfs driver does (root only;
//     runc attaches both, "two programs with identical rules").
//
// The D-Bus client is dbus-native (github.com/sidorares/dbus-native), loaded with `await
// import` only when --systemd-cgroup is given. Chosen because it is maintained again (regular
// releases in 2025-26, CI, typed API, errors as DBusError with the D-Bus error name), pure
// JavaScript (no addon to build next to ours), small in dependencies (long and xml2js, the
// latter only for introspection, which is not used here) and takes bigint for 64-bit values
// (TasksMax=infinity is 2^64-1). dbus-next is unmaintained since 2021; its forks
// (@particle/dbus-next) and @homebridge/dbus-native pull in event-stream, jsbi, hexy and more.
// Pinned to ^0.13: 0.14 and later require Node >= 22.12, launch supports Node >= 20.
import { existsSync, lstatSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LaunchError, hostError, setupError } from '../errors.js';
import type { Spec } from '../spec/schema.js';
import { applyWrites, writeCgroupFile } from './apply.js';
import { deviceFilterProgram } from './devicefilter.js';
import { attachDeviceFilter } from './manager.js';
import { ignoredFields, v2Writes } from './values.js';
import { type Property, expandSlice, parseCgroupsPath, resourceProperties, unitProperties } from './systemd-unit.js';

// The pure parts live beside this file; re-exported for the tests and callers of the driver.
export { annotationProperties, parseGVariant } from './systemd-gvariant.js';
export { INFINITY, type Property, expandSlice, parseCgroupsPath, rangeToBits, resourceProperties, unitProperties } from './systemd-unit.js';

// ---------------------------------------------------------------------------------------------
// Talking to systemd
// ---------------------------------------------------------------------------------------------

/** What the state file records for a container whose cgroup systemd made (state.cgroup). */
export interface SystemdCgroupRecord {
  version: 2;
  dirs: Record<string, string>;
  systemd: { unit: string; user: boolean };
}

/** The unit of a container's recorded cgroup, if the systemd driver made it. */
export function systemdUnitOf(cgroup: unknown): SystemdCgroupRecord['systemd'] | undefined {
  const sd = (cgroup as Partial<SystemdCgroupRecord> | undefined)?.systemd;
  return sd && typeof sd.unit === 'string' ? { unit: sd.unit, user: Boolean(sd.user) } : undefined;
}

/** sd_booted(): systemd runs as init (runc's IsRunningSystemd). */
export function systemdRunning(): boolean {
  try {
    return lstatSync('/run/systemd/system').isDirectory();
  } catch {
    return false;
  }
}

const SD = 'org.freedesktop.systemd1';
const SD_PATH = '/org/freedesktop/systemd1';
const MANAGER = 'org.freedesktop.systemd1.Manager';
const JOB_TIMEOUT_MS = 60_000;

interface Addresses {
  bus: string | undefined;
  /** systemd's private socket: a direct (peer-to-peer) connection, no bus daemon needed. */
  private: string;
  what: string;
}

/** Where the system or the user's instance listens (runc's DetectUserDbusSessionBusAddress,
 * without its `systemctl --user show-environment` last resort). */
function addresses(user: boolean, env: NodeJS.ProcessEnv, uid: number): Addresses {
  if (!user) return { bus: env.DBUS_SYSTEM_BUS_ADDRESS || 'unix:path=/run/dbus/system_bus_socket', private: '/run/systemd/private', what: 'the system instance of systemd' };
  const runtime = env.XDG_RUNTIME_DIR && existsSync(join(env.XDG_RUNTIME_DIR, 'bus')) ? env.XDG_RUNTIME_DIR : `/run/user/${uid}`;
  const bus = env.DBUS_SESSION_BUS_ADDRESS || (existsSync(join(runtime, 'bus')) ? `unix:path=${join(runtime, 'bus')}` : undefined);
  return { bus, private: join(runtime, 'systemd/private'), what: `the user instance of systemd (user@${uid}.service)` };
}

interface DbusErrorLike {
  dbusName?: string;
  message?: string;
  code?: string;
}

function dbusName(err: unknown): string {
  return (err as DbusErrorLike | undefined)?.dbusName ?? '';
}

/** One connection to systemd's manager, with the calls the driver needs. */
export class SystemdConnection {
  private jobs = new Map<string, string>();
  private waiters = new Map<string, (result: string) => void>();
  private socketError: Error | undefined;

  private constructor(
    // The dbus-native MessageBus; typed loosely to keep its types out of launch's public ones.
    private readonly bus: {
      invoke(msg: Record<string, unknown>, opts?: { timeout?: number }): PromiseLike<unknown>;
      addMatch(rule: string): PromiseLike<void>;
      signals: NodeJS.EventEmitter;
      mangle(path: string, iface: string, member: string): string;
      connection: NodeJS.EventEmitter;
      close(): Promise<void>;
    },
    readonly direct: boolean,
    readonly what: string,
  ) {
    bus.connection.on('error', (err: Error) => {
      this.socketError ??= err;
    });
    bus.signals.on(bus.mangle(SD_PATH, MANAGER, 'JobRemoved'), (body: unknown[]) => {
      const [, job, , result] = body as [number, string, string, string];
      const waiter = this.waiters.get(job);
      if (waiter) waiter(result);
      else this.jobs.set(job, result); // the signal may overtake the reply that names the job
    });
  }

  /** Connect to the system instance (root) or the user's. Tries the bus, then the private
   * socket; the error names both when neither answers. */
  static async open(user: boolean, env: NodeJS.ProcessEnv = process.env, uid = process.getuid!()): Promise<SystemdConnection> {
    const dbus = await loadDbus();
    const where = addresses(user, env, uid);
    const tries: { opts: Record<string, unknown>; direct: boolean; label: string }[] = [];
    if (where.bus) tries.push({ opts: { busAddress: where.bus }, direct: false, label: where.bus });
    if (existsSync(where.private)) tries.push({ opts: { socket: where.private, direct: true }, direct: true, label: where.private });
    if (tries.length === 0) {
      throw hostError(`--systemd-cgroup: cannot find ${where.what}: DBUS_SESSION_BUS_ADDRESS is not set and there is no bus at $XDG_RUNTIME_DIR/bus or /run/user/${uid}/bus (is user@${uid}.service running, with dbus-user-session?)`);
    }
    const failures: string[] = [];
    let first: unknown;
    for (const t of tries) {
      const bus = dbus.createClient({ ...t.opts, authMethods: ['EXTERNAL'], returnBigInt: true, variants: 'plain', plainValues: true });
      const conn = new SystemdConnection(bus as never, t.direct, where.what);
      try {
        // Subscribe: systemd sends JobRemoved to subscribers (go-systemd does the same); on a
        // bus, the match rule must be in place before the job can finish.
        if (!t.direct) await conn.bus.addMatch(`type='signal',sender='${SD}',path='${SD_PATH}',interface='${MANAGER}',member='JobRemoved'`);
        await conn.call('Subscribe');
        return conn;
      } catch (err) {
        first ??= conn.socketError ?? err;
        failures.push(`${t.label}: ${(conn.socketError ?? (err as Error)).message}`);
        await conn.close();
      }
    }
    throw hostError(`--systemd-cgroup: cannot talk to ${where.what} over D-Bus (${failures.join('; ')})`, { cause: first });
  }

  async call(member: string, signature?: string, body?: unknown[], path = SD_PATH, iface = MANAGER): Promise<unknown> {
    try {
      return await this.bus.invoke({ destination: SD, path, interface: iface, member, ...(signature ? { signature, body } : {}) }, { timeout: JOB_TIMEOUT_MS });
    } catch (err) {
      if (this.socketError) throw this.socketError;
      throw err;
    }
  }

  /** The manager's Version property as a number ("252.38-1~deb12u1" -> 252); -1 if unknown. */
  async version(): Promise<number> {
    try {
      const v = await this.call('Get', 'ss', [MANAGER, 'Version'], SD_PATH, 'org.freedesktop.DBus.Properties');
      const m = /(\d+)/.exec(String(v));
      return m ? Number(m[1]) : -1;
    } catch {
      return -1;
    }
  }

  async managerControlGroup(): Promise<string> {
    return String(await this.call('Get', 'ss', [MANAGER, 'ControlGroup'], SD_PATH, 'org.freedesktop.DBus.Properties'));
  }

  /** Wait for the JobRemoved of `job`; resolves with its result ("done", "failed", ...). */
  private waitJob(job: string, unit: string): Promise<string> {
    const seen = this.jobs.get(job);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(job);
        reject(hostError(`--systemd-cgroup: timed out after ${JOB_TIMEOUT_MS / 1000}s waiting for systemd to finish the job for \`${unit}\``));
      }, JOB_TIMEOUT_MS);
      this.waiters.set(job, (result) => {
        clearTimeout(timer);
        this.waiters.delete(job);
        resolve(result);
      });
    });
  }

  /** StartTransientUnit(name, "replace", props, []) and wait until its job is done. A unit of
   * that name left over from an earlier run (failed, say) is reset and the start retried once,
   * as runc does. */
  async startTransientUnit(unit: string, props: Property[]): Promise<void> {
    const wire = props.map(([name, sig, value]) => [name, [sig, value]]);
    for (let attempt = 0; ; attempt++) {
      let job: string;
      try {
        job = String(await this.call('StartTransientUnit', 'ssa(sv)a(sa(sv))', [unit, 'replace', wire, []]));
      } catch (err) {
        if (dbusName(err) === 'org.freedesktop.systemd1.UnitExists' && attempt === 0) {
          await this.resetFailed(unit);
          continue;
        }
        throw unitError(`cannot create the systemd unit \`${unit}\``, err, this.what);
      }
      const result = await this.waitJob(job, unit);
      if (result !== 'done') {
        await this.resetFailed(unit);
        throw setupError(`systemd could not start the unit \`${unit}\` (job result: ${result}; see \`journalctl -u ${unit}\`)`);
      }
      return;
    }
  }

  /** StopUnit and wait; a unit that is already gone is fine. Then reset it if it failed. */
  async stopUnit(unit: string): Promise<void> {
    try {
      const job = String(await this.call('StopUnit', 'ss', [unit, 'replace']));
      await this.waitJob(job, unit);
    } catch (err) {
      if (dbusName(err) !== 'org.freedesktop.systemd1.NoSuchUnit') throw unitError(`cannot stop the systemd unit \`${unit}\``, err, this.what);
    }
    await this.resetFailed(unit);
  }

  async resetFailed(unit: string): Promise<void> {
    try {
      await this.call('ResetFailedUnit', 's', [unit]);
    } catch {
      /* not failed, or gone: nothing to reset */
    }
  }

  async close(): Promise<void> {
    try {
      await this.bus.close();
    } catch {
      /* already closed */
    }
  }
}

function unitError(what: string, err: unknown, who: string): LaunchError {
  if (err instanceof LaunchError) return err;
  const name = dbusName(err);
  const detail = (err as DbusErrorLike | undefined)?.message ?? String(err);
  // Access denied here means polkit or the bus policy said no: the host's business.
  return hostError(`--systemd-cgroup: ${what}: ${detail}${name ? ` (${name})` : ''} [${who}]`, { cause: err });
}

interface DbusNative {
  createClient(opts: Record<string, unknown>): unknown;
}

async function loadDbus(): Promise<DbusNative> {
  const mod = (await import('dbus-native')) as unknown as { default?: DbusNative } & DbusNative;
  return mod.default ?? mod;
}

// ---------------------------------------------------------------------------------------------
// The driver run.ts uses
// ---------------------------------------------------------------------------------------------

export interface SystemdDriver {
  unit: string;
  /** Create the unit with the init in it (it waits at its sync), then write what systemd has
   * no property for; returns what the state records. On failure the unit stays for stop(),
   * which the caller runs once the launcher has killed the init: StopUnit now would wait
   * (TimeoutStopSec) for an init that does not take SIGTERM while it waits at its sync. */
  start(pid: number): Promise<SystemdCgroupRecord>;
  /** Stop the unit (after the container is gone). Idempotent; never throws: a failure is
   * told to `debug` (systemd removes an empty scope by itself anyway). */
  stop(): Promise<void>;
}

export interface SystemdHost {
  uid: number;
  cgroupVersion: 1 | 2;
  mount?: string;
  debug?: (line: string) => void;
}

/** Check the config and the host, connect to systemd; called before the container exists, so
 * a bad cgroupsPath or an unreachable systemd fail before anything is created. */
export async function systemdDriver(spec: Spec, id: string, host: SystemdHost): Promise<SystemdDriver> {
  if (!systemdRunning()) {
    throw hostError('--systemd-cgroup: systemd is not running on this host (no /run/systemd/system); run without --systemd-cgroup to use the cgroupfs driver');
  }
  if (host.cgroupVersion !== 2) {
    throw hostError('--systemd-cgroup: only cgroup v2 (the unified hierarchy) is supported by launch\'s systemd driver; run without --systemd-cgroup to use the cgroupfs driver');
  }
  const user = host.uid !== 0;
  const mount = host.mount ?? '/sys/fs/cgroup';
  const target = parseCgroupsPath(spec.linux?.cgroupsPath, id, user);
  const resources = spec.linux?.resources ?? {};
  for (const f of ignoredFields(resources, 2)) host.debug?.(`${f}: not applied on cgroup v2`);
  if (resources.devices && user) host.debug?.('linux.resources.devices (rootless: loading its eBPF filter needs root, runc skips it too): not applied');
  const deviceFilter = resources.devices && !user ? deviceFilterProgram(resources.devices) : undefined;
  // Values are checked now, with the version-independent mapping; the real one follows.
  resourceProperties(resources, Number.MAX_SAFE_INTEGER);
  unitProperties(target, id, undefined, spec);

  const conn = await SystemdConnection.open(user);
  let version: number;
  try {
    version = await conn.version();
  } catch (err) {
    await conn.close();
    throw err;
  }
  host.debug?.(`--systemd-cgroup: ${conn.what}${conn.direct ? ' (private socket)' : ''}, systemd ${version}, unit ${target.unit} in ${target.slice}`);
  let open: SystemdConnection | undefined = conn;
  let started = false;

  const driver: SystemdDriver = {
    unit: target.unit,
    async start(pid) {
      const c = open ?? (open = await SystemdConnection.open(user));
      try {
        const mapped = resourceProperties(resources, version);
        const props = [...unitProperties(target, id, pid, spec), ...mapped.props];
        await c.startTransientUnit(target.unit, props);
        started = true;
        const dir = target.kind === 'scope' ? scopeDir(pid, mount, target.unit) : await sliceDir(c, target.unit, user, mount, pid);
        applyWrites(() => dir, v2Writes(mapped.resources));
        // Before the init is released from its sync, so it never runs unfiltered.
        if (deviceFilter) attachDeviceFilter(dir, deviceFilter);
        return { version: 2, dirs: { '': dir }, systemd: { unit: target.unit, user } };
      } finally {
        await open?.close();
        open = undefined;
      }
    },
    async stop() {
      await open?.close();
      open = undefined;
      if (!started) return;
      started = false;
      try {
        await stopSystemdUnit({ unit: target.unit, user });
      } catch (err) {
        host.debug?.(`cannot stop ${target.unit}: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
  return driver;
}

/** The scope's cgroup directory: where systemd put the init (its /proc/PID/cgroup line). */
function scopeDir(pid: number, mount: string, unit: string): string {
  const text = readFileSync(`/proc/${pid}/cgroup`, 'utf8');
  const line = text.split('\n').find((l) => l.startsWith('0::'));
  const path = line?.slice(3).trim();
  if (!path || !path.endsWith(`/${unit}`)) {
    throw setupError(`systemd created \`${unit}\` but the container's init is in \`${path ?? '?'}\`, not in it`);
  }
  return join(mount, path);
}

/** A slice holds no PIDs= property: its cgroup (under the user manager's own, rootless) is
 * made if systemd has not realized it yet, and the init is moved in through cgroupfs. */
async function sliceDir(c: SystemdConnection, unit: string, user: boolean, mount: string, pid: number): Promise<string> {
  const root = user ? await c.managerControlGroup() : '/';
  const dir = join(mount, root, expandSlice(unit));
  mkdirSync(dir, { recursive: true });
  writeCgroupFile(join(dir, 'cgroup.procs'), String(pid));
  return dir;
}

/** Stop a recorded unit (`delete`, or the end of `run`): StopUnit, wait, reset-failed. */
export async function stopSystemdUnit(sd: { unit: string; user: boolean }): Promise<void> {
  const conn = await SystemdConnection.open(sd.user);
  try {
    await conn.stopUnit(sd.unit);
  } finally {
    await conn.close();
  }
}
