// The bench's surroundings: the runtimes, the modes (root, rootless), their bundles and
// state directories, crun's cgroup2 mount namespace, and the cleanup of all of it.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync,
  writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { capture, describeFailure } from './util.mjs';

const here = (p) => fileURLToPath(new URL(p, import.meta.url));
export const PATHS = {
  launch: here('../bin/launch'),
  launchBin: here('../dist/launch'),
  distMain: here('../dist/cli/main.js'),
  // The Node the npm scripts run on, and the one the single executable is built from.
  node: here('../node_modules/node/bin/node'),
  runc: '/usr/sbin/runc',
  crun: '/usr/bin/crun',
  busybox: '/usr/bin/busybox',
};

/** The programs a container runs, by scenario. */
const PROGRAMS = {
  true: ['/bin/true'],
  sleep: ['/bin/sleep', '1000'], // exec: a container to exec into
  mem: ['/bin/sleep', '30'], // memory: a foreground container that sleeps (killed after the sample)
};

/**
 * The runtimes, in table order. `skip` is null or why the runtime cannot run at all here;
 * a runtime can also fail in one scenario only (the scenarios skip it there).
 */
export function findRuntimes() {
  const rts = [
    { name: 'launch-bin', bin: PATHS.launchBin, skip: null },
    { name: 'launch', bin: PATHS.launch, skip: null },
    { name: 'runc', bin: PATHS.runc, skip: null },
    { name: 'crun', bin: PATHS.crun, skip: null },
  ];
  for (const rt of rts) {
    if (!existsSync(rt.bin)) { rt.skip = `${rt.bin} not found`; continue; }
    const v = capture([rt.bin, '--version']);
    if (v.error || v.status !== 0) rt.skip = `\`${rt.bin} --version\` failed: ${describeFailure(v)}`;
    else rt.version = v.stdout.split('\n')[0].trim();
  }
  const lb = rts[0];
  if (lb.skip && !existsSync(PATHS.launchBin)) lb.skip = `${PATHS.launchBin} not found (the single executable is not built)`;
  return rts;
}

/** launch's per-user cache of compiled bundles: `<state root>/.compiled/`. A `run`/`create`
 * whose entry exists runs natively without Node (warm); the first one compiles and stores it
 * (cold). */
export const CACHE_DIR = '.compiled';
const LAUNCHES = ['launch-bin', 'launch'];
const CACHE_SUFFIX = / \((cold|warm)\)$/;

/**
 * The rows of a scenario that measures launch both ways (run, cycle): `launch-bin (cold)`,
 * `launch-bin (warm)`, `launch (cold)`, `launch (warm)`, then the other runtimes as they are.
 * Each is { name, rt (the runtime), cache: 'cold' | 'warm' | null }; each has a state root
 * of its own (setUpMode), so a cold row's removal never empties a warm row's cache.
 */
export function cacheRows(runtimes) {
  return runtimes.flatMap((rt) => (LAUNCHES.includes(rt.name)
    ? ['cold', 'warm'].map((cache) => ({ name: `${rt.name} (${cache})`, rt: rt.name, cache }))
    : [{ name: rt.name, rt: rt.name, cache: null }]));
}
/** The runtime a row runs: `launch-bin (cold)` → `launch-bin`. */
export const baseOf = (row) => row.replace(CACHE_SUFFIX, '');
/** A row's name as a piece of a container id: `launch-bin (cold)` → `launch-bin-cold`. */
export const slugOf = (row) => row.replace(CACHE_SUFFIX, '-$1');
export const isCacheRow = (row) => CACHE_SUFFIX.test(row);

/**
 * crun refuses a cgroup-v1 hybrid host ("cgroups in hybrid mode not supported"), even with
 * --cgroup-manager=disabled. It runs where /sys/fs/cgroup is a cgroup2 mount, so a process
 * holds a private mount namespace with cgroup2 mounted there, and each crun command enters it
 * with `nsenter --mount` (then, rootless, drops to the user with runuser). Returns
 * { pid, kill() } or { error }.
 */
export async function startCrunNamespace() {
  if (process.getuid() !== 0) return { error: 'needs root: a cgroup2 mount namespace cannot be made rootless on this host (mount(2) of cgroup2 in a user namespace: EPERM)' };
  // The holder is the shell itself, waiting on stdin: if the bench dies, EOF ends it too.
  const script = 'mount -t cgroup2 none /sys/fs/cgroup && echo ready && read _';
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => { err += d; });
  const ready = await new Promise((res) => {
    child.stdout.on('data', (d) => { if (String(d).includes('ready')) res(true); });
    child.on('exit', () => res(false));
    child.on('error', (e) => { err += e.message; res(false); });
  });
  if (!ready) return { error: `cgroup2 mount namespace: ${err.trim() || 'unshare failed'}` };
  child.stdout.destroy(); child.stderr.destroy(); child.unref();
  return { pid: child.pid, kill: () => { try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ } } };
}

/**
 * The modes to measure: as root, `root` and (given a user) `rootless` through
 * `runuser -u USER --`; as an ordinary user, `rootless` only.
 */
export function makeModes(user) {
  const isRoot = process.getuid() === 0;
  const modes = [];
  if (isRoot) modes.push({ name: 'root', prefix: [], rootless: false });
  if (isRoot && user) modes.push({ name: 'rootless', prefix: ['runuser', '-u', user.name, '--'], rootless: true, owner: user });
  if (!isRoot) modes.push({ name: 'rootless', prefix: [], rootless: true });
  return modes;
}

/** A temp dir, reachable by the rootless user (mkdtemp makes it 0700). */
export function makeTmp() {
  const tmp = mkdtempSync(join(tmpdir(), 'launch-bench-'));
  chmodSync(tmp, 0o755);
  return tmp;
}

/**
 * Lay out one mode: a busybox rootfs, one bundle per program (sharing that rootfs), a
 * state dir (--root) per runtime, a dir for pid files and one for stderr captures. Adds to
 * `mode`: dir, roots, pidDir, errFile, bundle(program, runtime), argv(runtime, ...args),
 * ref(...argv).
 */
export function setUpMode(mode, tmp, runtimes, crunNs) {
  const dir = (mode.dir = join(tmp, mode.name));
  const rootfs = join(dir, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) mkdirSync(join(rootfs, d), { recursive: true });
  copyFileSync(PATHS.busybox, join(rootfs, 'bin', 'busybox'));
  for (const l of ['true', 'sh', 'sleep']) symlinkSync('busybox', join(rootfs, 'bin', l));
  mode.roots = {}; // by row name: a runtime, or a launch row of cacheRows
  for (const rt of runtimes) {
    mkdirSync((mode.roots[rt.name] = join(dir, `state-${rt.name}`)));
    if (!LAUNCHES.includes(rt.name)) continue;
    for (const cache of ['cold', 'warm']) mkdirSync((mode.roots[`${rt.name} (${cache})`] = join(dir, `state-${rt.name}-${cache}`)));
  }
  mkdirSync((mode.pidDir = join(dir, 'pids')));
  mkdirSync(join(dir, 'spec'));
  mode.errFile = join(tmp, `stderr-${mode.name}`); // opened by the bench itself, so root's is fine
  // The rootless user owns everything it writes: state dirs, pid files, `runc spec` output.
  if (mode.owner) spawnSync('chown', ['-R', `${mode.owner.uid}:${mode.owner.gid}`, dir]);

  // `runc spec --rootless` must run as the target user: it maps that user's uid and gid.
  const r = capture([...mode.prefix, PATHS.runc, 'spec', ...(mode.rootless ? ['--rootless'] : [])], { cwd: join(dir, 'spec') });
  if (r.status !== 0) throw new Error(`runc spec failed: ${describeFailure(r)}`);
  const base = JSON.parse(readFileSync(join(dir, 'spec', 'config.json'), 'utf8'));

  const bundles = {};
  for (const [prog, args] of Object.entries(PROGRAMS)) {
    for (const variant of mode.rootless ? ['std'] : ['std', 'crun']) {
      const cfg = structuredClone(base);
      cfg.root.path = rootfs;
      cfg.process.terminal = false;
      cfg.process.args = args;
      // The same work for every runtime: runc and crun leave a new network namespace with its
      // loopback, so launch is told not to start its user-mode network (pasta) for `run`.
      cfg.annotations = { 'run.launch.network': 'none' };
      // crun as root would put runc's device rules (deny all) into a cgroup-v2 eBPF filter,
      // after raising RLIMIT_MEMLOCK, which this host denies (no CAP_SYS_RESOURCE). Without
      // resources it still makes the container's cgroup (in the cgroup2 hierarchy).
      if (variant === 'crun') cfg.linux.resources = {};
      const b = join(dir, `bundle-${prog}${variant === 'crun' ? '-crun' : ''}`);
      mkdirSync(b);
      writeFileSync(join(b, 'config.json'), JSON.stringify(cfg, null, 2));
      bundles[`${prog}/${variant}`] = b;
    }
  }
  if (mode.owner) spawnSync('chown', ['-R', `${mode.owner.uid}:${mode.owner.gid}`, dir]);
  mode.bundle = (prog, row) => bundles[`${prog}/${baseOf(row) === 'crun' && !mode.rootless ? 'crun' : 'std'}`];

  const bins = Object.fromEntries(runtimes.map((rt) => [rt.name, rt.bin]));
  const crunWrap = crunNs?.pid ? ['nsenter', `--target=${crunNs.pid}`, '--mount', '--'] : [];
  /** The command line of `RUNTIME --root DIR ARGS...` in this mode, for a runtime or a row of
   * cacheRows (its runtime, its own state root). */
  mode.argv = (row, ...args) => {
    const rt = baseOf(row);
    return [...(rt === 'crun' ? crunWrap : []), ...mode.prefix, bins[rt], '--root', mode.roots[row], ...args];
  };
  /** Remove a row's compiled-bundle cache (`<root>/.compiled`), as the user who owns it (the
   * rootless user through the mode's runuser). A missing one is fine. Null, or what failed. */
  mode.dropCache = (row) => {
    const path = join(mode.roots[row], CACHE_DIR);
    if (!mode.prefix.length) {
      try { rmSync(path, { recursive: true, force: true }); return null; } catch (e) { return `rm -rf ${path}: ${e.message}`; }
    }
    const r = capture(mode.ref('rm', '-rf', '--', path));
    return r.status === 0 ? null : `rm -rf ${path}: ${describeFailure(r)}`;
  };
  /** Whether the row's state root holds a compiled-bundle cache. */
  mode.hasCache = (row) => existsSync(join(mode.roots[row], CACHE_DIR));
  /** A reference command in this mode (same prefix as the runtimes). */
  mode.ref = (...argv) => [...mode.prefix, ...argv];
  mode.crunWrapperRef = crunWrap.length ? [...crunWrap, ...mode.prefix, '/bin/true'] : null;
  return mode;
}

/** Delete every container left in the modes' state dirs (failed or interrupted runs). */
export function deleteLeftovers(modes, runtimes) {
  for (const mode of modes) {
    if (!mode.argv) continue;
    for (const row of Object.keys(mode.roots ?? {})) {
      const rt = runtimes.find((r) => r.name === baseOf(row));
      if (!rt || rt.skip) continue;
      const l = capture(mode.argv(row, 'list', '-q'));
      for (const id of (l.stdout || '').split('\n').map((s) => s.trim()).filter(Boolean)) {
        capture(mode.argv(row, 'delete', '-f', id));
      }
    }
  }
}

export function removeTmp(tmp) {
  rmSync(tmp, { recursive: true, force: true });
}

export const nodeDir = () => dirname(PATHS.node);
