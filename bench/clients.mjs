// The callers' view (issue 17): a container engine running each runtime as its OCI runtime,
// for a container of /bin/true removed at its exit.
// - podman (`podman run --rm`; podman and conmon call create, start and delete), as root and
//   rootless (through the mode's `runuser -u USER --`: podman then makes its own user
//   namespace with newuidmap/newgidmap and the user's subordinate ids, and runs conmon and the
//   runtime in it), each with a storage, run root, tmp dir and XDG_RUNTIME_DIR of its own.
// - containerd (`ctr run --rm`, the runc v2 shim calling the runtime as its runc binary), as
//   root only, with a containerd daemon of the bench's own.
// crun is left out of both: they would run it against this host's cgroup-v1 hybrid tree,
// which crun refuses.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture, describeFailure, sleep, timed } from './util.mjs';

const IMAGE = 'localhost/launch-bench:busybox';
const CGROUP_PARENT = 'launch-bench-podman';
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** Other processes with an argument that is `path` or under it: for a path of the bench's,
 * the bench's own (a containerd's --address, its shims' -address, conmon's -b, a runtime's
 * --root or --bundle), left by an interrupted run. */
function pidsNaming(path) {
  const pids = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      const args = readFileSync(`/proc/${d}/cmdline`, 'utf8').split('\0');
      if (args.some((a) => a === path || a.startsWith(`${path}/`))) pids.push(Number(d));
    } catch { /* gone */ }
  }
  return pids;
}
const killAll = (pids) => { for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } };

/** Mount points at or under `dir` in the bench's mount namespace, deepest first. */
function mountsUnder(dir) {
  const unescape = (p) => p.replace(/\\(\d{3})/g, (_, o) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean)
    .map((l) => unescape(l.split(' ')[4]))
    .filter((m) => m === dir || m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
}

/** Whether /etc/subuid (or subgid) gives `user` a range: the first line naming it, or null. */
function subordinate(file, user) {
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { return null; }
  return text.split('\n').find((l) => { const [who, , n] = l.split(':'); return (who === user.name || who === String(user.uid)) && Number(n) > 0; }) ?? null;
}

/** Why rootless podman cannot run for the mode's user here, or null. */
function rootlessBlocker(mode) {
  const missing = ['newuidmap', 'newgidmap'].filter((c) => !has(c));
  if (missing.length) return `rootless podman needs ${missing.join(' and ')} (apt-get install uidmap)`;
  const user = mode.owner ?? { name: capture(['id', '-un']).stdout.trim(), uid: process.getuid() };
  for (const f of ['/etc/subuid', '/etc/subgid']) {
    if (!subordinate(f, user)) return `rootless podman needs a range of subordinate ids for ${user.name} in ${f} (none there)`;
  }
  return null;
}

/**
 * A podman of the bench's own (storage, run root, tmp dir, XDG_RUNTIME_DIR, config) with one
 * runtime entry per row, run through the mode's prefix (rootless: runuser, which keeps
 * CONTAINERS_CONF and XDG_RUNTIME_DIR). Returns { podman(...args), env, cleanup } or
 * { error, cleanup }.
 */
function setUp(mode, runtimes) {
  const dir = join(mode.dir, 'podman');
  const xdg = join(dir, 'xdg');
  mkdirSync(xdg, { recursive: true, mode: 0o700 });
  const conf = join(dir, 'containers.conf');
  const names = runtimes.map((rt) => rt.name);
  writeFileSync(conf, [
    '[containers]',
    'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
    '[engine]',
    `runtime_supports_json = ${JSON.stringify(names)}`,
    `runtime_supports_nocgroups = ${JSON.stringify(names)}`,
    '[engine.runtimes]',
    ...runtimes.map((rt) => `"${rt.name}" = ["${rt.bin}"]`),
    '',
  ].join('\n'));
  chmodSync(conf, 0o644);
  const tar = join(dir, 'rootfs.tar');
  spawnSync('tar', ['-C', join(mode.dir, 'rootfs'), '-cf', tar, '.']);
  if (mode.owner) spawnSync('chown', ['-R', `${mode.owner.uid}:${mode.owner.gid}`, dir]);
  const podman = (...args) => mode.ref('podman', '--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'),
    '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args);
  // XDG_RUNTIME_DIR: rootless podman's runtime dir, and the runtimes' default state root
  // (podman 4.3 passes them no --root): XDG_RUNTIME_DIR/runc, XDG_RUNTIME_DIR/launch.
  const env = { ...process.env, CONTAINERS_CONF: conf, ...(mode.rootless ? { XDG_RUNTIME_DIR: xdg } : {}) };
  const cleanup = () => {
    // Containers an interrupted run left (podman stopped between the runtime's create and its
    // start leaves a created container, its init waiting for start): podman has the runtime
    // delete them, and its conmon goes.
    capture(podman('rm', '--all', '--force', '--time', '0'), { env, timeout: 60000 });
    if (mode.rootless) {
      // Rootless, the storage belongs to subordinate ids: removed inside podman's user namespace.
      capture(podman('unshare', 'rm', '-rf', join(dir, 'storage'), join(dir, 'run')), { env, timeout: 30000 });
      // The pause process rootless podman keeps to hold that namespace, by the pid it wrote.
      for (const f of [join(dir, 'tmp', 'pause.pid'), join(xdg, 'libpod', 'tmp', 'pause.pid')]) {
        try { process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGKILL'); } catch { /* none there */ }
      }
    }
    // Anything still naming the dir (a conmon, a runtime command) is the bench's; then its mounts.
    killAll(pidsNaming(dir));
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    spawnSync('rm', ['-rf', dir]);
    // The cgroups podman and conmon made under the bench's --cgroup-parent (root), once empty.
    if (!mode.rootless) spawnSync('find', ['/sys/fs/cgroup', '-depth', '-type', 'd', '-path', `*/${CGROUP_PARENT}*`, '-exec', 'rmdir', '{}', '+'], { stdio: 'ignore' });
  };
  const r = capture(podman('import', '-q', tar, IMAGE), { env });
  if (r.status !== 0) return { error: `podman import: ${describeFailure(r)}`, cleanup };
  return { podman, env, cleanup };
}

/** Rows for `interleave`: one per runtime, `podman run --rm IMAGE /bin/true`, or why none;
 * `cleanup` removes podman's storage (also after a failed set-up). */
export function podmanEntries(mode, runtimes, entry) {
  if (!has('podman')) return { why: 'needs podman (apt-get install podman)' };
  if (mode.rootless) {
    const why = rootlessBlocker(mode);
    if (why) return { why };
  }
  const rts = runtimes.filter((rt) => rt.name !== 'crun');
  const p = setUp(mode, rts);
  if (p.error) return { why: p.error, cleanup: p.cleanup };
  // As root, podman's cgroups (conmon's, the containers') go under a parent of the bench's.
  // Rootless on cgroup v1, podman makes none.
  const parent = mode.rootless ? [] : ['--cgroup-parent', `/${CGROUP_PARENT}`];
  const entries = rts.map((rt) => entry(rt.name, () =>
    timed(p.podman('--runtime', rt.name, 'run', '--rm', '--network', 'none', ...parent, IMAGE, '/bin/true'), mode.errFile, p.env)));
  return { entries, cleanup: p.cleanup };
}

// --- containerd --------------------------------------------------------------

const CTR_IMAGE = 'docker.io/library/launch-bench:busybox';
const CTR_NAMESPACE = 'launch-bench';
const CTR_CGROUP_PARENT = 'launch-bench-ctr';

/** An OCI image layout (one uncompressed layer: the bench's busybox root filesystem, and a
 * config) as the tar `ctr image import` takes, named by the annotation containerd reads. */
function ociArchive(dir, rootfs, name) {
  const layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const blob = (data) => {
    const digest = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(layout, 'blobs', 'sha256', digest), data);
    return { digest: `sha256:${digest}`, size: data.length };
  };
  const layer = blob(spawnSync('tar', ['-C', rootfs, '-cf', '-', '.'], { maxBuffer: 256 << 20 }).stdout);
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch] ?? process.arch;
  const config = blob(Buffer.from(JSON.stringify({
    architecture: arch, os: 'linux', config: { Cmd: ['/bin/true'], Env: ['PATH=/bin'] },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'io.containerd.image.name': name } }],
  }));
  const tar = join(dir, 'image.tar');
  const r = spawnSync('tar', ['-C', layout, '-cf', tar, '.'], { encoding: 'utf8' });
  return r.status === 0 ? { tar } : { error: `tar of the image layout: ${describeFailure(r)}` };
}

/**
 * A containerd of the bench's own: config, root, state, FIFOs and socket under the mode's dir
 * (no CRI plugin, no /opt plugin), never the system's /run/containerd/containerd.sock. It is
 * held by a shell that waits on a pipe from the bench and stops it (SIGTERM, then waits) at
 * EOF: at the clean-up, or when the bench dies. The shell has a process group of its own, so
 * a Ctrl-C reaches the bench, which cleans up, and not the daemon.
 * Returns { ctr(...args), runArgs(rt, id), cleanup() } or { why, cleanup }.
 */
async function ctrSetUp(mode, rts) {
  const dir = join(mode.dir, 'containerd');
  mkdirSync(dir, { recursive: true });
  const sock = join(dir, 'sock');
  const conf = join(dir, 'config.toml');
  // cri: Kubernetes' plugin, not used by ctr; opt: would make /opt/containerd.
  writeFileSync(conf, 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt"]\n');
  const log = join(dir, 'containerd.log');
  const q = (s) => `'${s.replace(/'/g, "'\\''")}'`;
  const script = `containerd --config ${q(conf)} --root ${q(join(dir, 'root'))} --state ${q(join(dir, 'state'))} --address ${q(sock)} >${q(log)} 2>&1 &
pid=$!; read _; kill -TERM $pid; wait $pid`;
  // The daemon inherits the bench's PATH, Node's directory first: the shim runs bin/launch, whose front runs `env node`.
  const holder = spawn('sh', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'], detached: true });
  const held = new Promise((res) => { holder.on('exit', res); holder.on('error', res); });
  const ctr = (...args) => ['ctr', '--address', sock, '--namespace', CTR_NAMESPACE, ...args];
  const lastLog = () => {
    let text = '';
    try { text = readFileSync(log, 'utf8'); } catch { /* none */ }
    const errs = text.split('\n').filter((l) => /level=(error|fatal)/.test(l));
    return (errs[errs.length - 1] ?? text.trim().split('\n').pop() ?? '').slice(0, 300);
  };

  const runcRoot = (rt) => join(dir, 'runc-root', rt.name);
  const cleanup = async () => {
    const T = { timeout: 10000 };
    const ids = (argv) => (capture(argv, T).stdout ?? '').split('\n').map((l) => l.trim()).filter(Boolean);
    // Whatever an interrupted run left, through containerd: tasks (killed), containers (with their snapshots).
    for (const id of ids(ctr('tasks', 'ls', '-q'))) capture(ctr('tasks', 'delete', '-f', id), T);
    for (const id of ids(ctr('containers', 'ls', '-q'))) capture(ctr('containers', 'delete', id), T);
    holder.stdin.end();
    if (!(await Promise.race([held.then(() => true), sleep(15000).then(() => false)]))) killAll(pidsNaming(sock));
    // What is left once the daemon is gone: shims of our daemon (each names its socket), then
    // containers the runtimes still hold (a create cut short), deleted by their runtime, then
    // any runtime process still naming the dir (ours: the dir is the bench's).
    killAll(pidsNaming(sock));
    for (const rt of rts) {
      const root = join(runcRoot(rt), CTR_NAMESPACE);
      for (const id of ids([rt.bin, '--root', root, 'list', '-q'])) capture([rt.bin, '--root', root, 'delete', '-f', id], T);
    }
    killAll(pidsNaming(dir));
    for (const m of mountsUnder(dir)) spawnSync('umount', ['-l', m], { stdio: 'ignore' });
    spawnSync('rm', ['-rf', dir]);
    spawnSync('find', ['/sys/fs/cgroup', '-depth', '-type', 'd', '-path', `*/${CTR_CGROUP_PARENT}*`, '-exec', 'rmdir', '{}', '+'], { stdio: 'ignore' });
  };

  let up = false;
  for (const end = Date.now() + 20000; Date.now() < end;) {
    if (holder.exitCode !== null || holder.signalCode !== null) break;
    if (capture(ctr('version')).status === 0) { up = true; break; }
    await sleep(100);
  }
  if (!up) return { why: `containerd did not answer on ${sock} within 20 s: ${lastLog() || 'no log'}`, cleanup };
  const img = ociArchive(dir, join(mode.dir, 'rootfs'), CTR_IMAGE);
  if (img.error) return { why: img.error, cleanup };
  const imp = capture(ctr('images', 'import', img.tar));
  if (imp.status !== 0) return { why: `ctr images import: ${describeFailure(imp)}`, cleanup };

  // Per runtime, the shim's runc root (--runc-root; the runtime's --root is ROOT/NAMESPACE)
  // under the bench's dir, not /run/containerd/runc; the FIFOs too, not /run/containerd/fifo.
  for (const rt of rts) mkdirSync(runcRoot(rt), { recursive: true });
  mkdirSync(join(dir, 'fifo'), { recursive: true });
  const runArgs = (rt, id) => ctr('run', '--rm', '--runtime', 'io.containerd.runc.v2', '--runc-binary', rt.bin,
    '--runc-root', runcRoot(rt), '--fifo-dir', join(dir, 'fifo'), '--cgroup', `/${CTR_CGROUP_PARENT}/${id}`,
    CTR_IMAGE, id, '/bin/true');
  return { ctr, runArgs, cleanup };
}

/** Rows for `interleave`, one per runtime: `ctr run --rm IMAGE ID /bin/true`, or why none;
 * `cleanup` (async) stops the daemon and removes all of it, also after a failed set-up. */
export async function ctrEntries(mode, runtimes, entry) {
  if (mode.rootless) return { why: 'root only: containerd is run as root here (a rootless containerd needs rootlesskit, which the bench does not set up)' };
  if (process.getuid() !== 0) return { why: 'needs root (the bench starts a containerd of its own)' };
  const missing = ['containerd', 'ctr', 'containerd-shim-runc-v2'].filter((c) => !has(c));
  if (missing.length) return { why: `needs containerd: ${missing.join(', ')} not found (apt-get install containerd)` };
  const rts = runtimes.filter((rt) => rt.name !== 'crun');
  const c = await ctrSetUp(mode, rts);
  if (c.why) return c;
  const entries = rts.map((rt) => entry(rt.name, (i) => timed(c.runArgs(rt, `ctr-${rt.name}-${i}`), mode.errFile)));
  return { entries, cleanup: c.cleanup };
}
