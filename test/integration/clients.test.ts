// Real callers of the runc command line: podman (`--runtime` pointing at launch) as root and
// rootless, and containerd (ctr with the runc v2 shim running launch as its runc binary).
// Images are made here from the busybox root filesystem: nothing is pulled.
import { type ChildProcess, type SpawnSyncReturns, execFileSync, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, cleanupBase, cleanupTestCgroups, ownedDir } from '../helpers/bundle.js';
import { type Mode, type RunAs, missing, runAs } from '../helpers/env.js';
import { LAUNCH, SLOW, exitOf, until } from '../helpers/launch.js';

afterAll(() => {
  cleanupBase();
  // Parents the callers made for their containers (launch removes only a container's own).
  cleanupTestCgroups(['launch-test-podman/conmon', 'launch-test-podman', 'launch-test-ctr']);
});

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

/** podman with its own storage, run root and runtime dirs (vfs: works rootless anywhere), the
 * cgroupfs manager (no systemd here), no network (tests stay on this machine; rootless
 * networking needs /dev/net/tun), and containers.conf lines that make podman treat launch as
 * it treats crun (README "Driving launch from podman"). */
class Podman {
  readonly dir: string;
  readonly conf: string;
  constructor(readonly who: RunAs) {
    // A short name: podman refuses a run root (<dir>/run) of more than 50 characters.
    this.dir = ownedDir(who, 'pm');
    this.conf = join(this.dir, 'containers.conf');
    // The machine refuses rlimits above its hard limits (podman's root default is 1048576).
    writeFileSync(
      this.conf,
      [
        '[containers]',
        'default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]',
        '[engine]',
        'runtime = "launch"',
        'runtime_supports_json = ["crun", "runc", "launch"]',
        'runtime_supports_nocgroups = ["crun", "launch"]',
        '[engine.runtimes]',
        `launch = ["${LAUNCH}"]`,
        '',
      ].join('\n'),
    );
    chmodSync(this.conf, 0o644);
    mkdirSync(join(this.dir, 'xdg'), { recursive: true, mode: 0o700 });
    if (who.uid !== process.getuid!()) execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, this.dir]);
  }

  run(args: string[], opts: { input?: string; timeout?: number } = {}): SpawnSyncReturns<string> {
    const d = this.dir;
    // As root, podman's cgroups (conmon's, the containers') go under a parent of our own.
    if (args[0] === 'run' && this.who.uid === 0) args = ['run', '--cgroup-parent', '/launch-test-podman', ...args.slice(1)];
    const argv = ['--root', join(d, 'storage'), '--runroot', join(d, 'run'), '--tmpdir', join(d, 'tmp'), '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args];
    return spawnSync('podman', argv, {
      encoding: 'utf8',
      input: opts.input,
      timeout: (opts.timeout ?? 60_000) * SLOW,
      env: { PATH: process.env.PATH, HOME: this.who.home, USER: this.who.name, XDG_RUNTIME_DIR: join(d, 'xdg'), CONTAINERS_CONF: this.conf },
      cwd: d,
      ...(this.who.uid !== process.getuid!() ? { uid: this.who.uid, gid: this.who.gid } : {}),
    });
  }

  /** Remove podman's storage (rootless, its files belong to subordinate ids: only `podman
   * unshare` may remove them), then stop the pause process rootless podman keeps (holding its
   * user namespace) per runtime dir, found through the pid file it leaves there. */
  cleanup(): void {
    if (this.who.uid !== 0) this.run(['unshare', 'rm', '-rf', join(this.dir, 'storage'), join(this.dir, 'run')]);
    this.stopPauseProcess();
  }

  private stopPauseProcess(): void {
    for (const file of [join(this.dir, 'tmp/pause.pid'), join(this.dir, 'xdg/libpod/tmp/pause.pid')]) {
      try {
        process.kill(Number(readFileSync(file, 'utf8').trim()), 'SIGKILL');
      } catch {
        /* none there */
      }
    }
  }

  /** `podman import` of the busybox root filesystem as localhost/busybox:test. */
  importImage(): void {
    const tar = join(this.dir, 'rootfs.tar');
    execFileSync('tar', ['-C', busyboxRootfs(this.who), '-cf', tar, '.']);
    if (this.who.uid !== process.getuid!()) execFileSync('chown', [`${this.who.uid}:${this.who.gid}`, tar]);
    const r = this.run(['import', '-q', tar, 'localhost/busybox:test']);
    if (r.status !== 0) throw new Error(`podman import failed: ${r.stderr}`);
  }
}

const IMAGE = 'localhost/busybox:test';
const podmanSkip = (mode: Mode) =>
  missing(mode, 'busybox', 'dist', 'addon') ?? (has('podman') ? undefined : 'needs podman (apt-get install podman)');

for (const mode of ['root', 'rootless'] as const) {
  const skip = podmanSkip(mode);
  describe(skip ? `podman --runtime launch as ${mode} (skipped: ${skip})` : `podman --runtime launch as ${mode}`, () => {
    let pm: Podman;
    beforeAll(() => {
      if (skip) return;
      pm = new Podman(runAs(mode)!);
      pm.importImage();
    });
    afterAll(() => pm?.cleanup());
    const base = ['run', '--rm', '--network', 'none'];

    it.skipIf(skip)('runs a container that prints and exits with its code', () => {
      const r = pm.run([...base, IMAGE, 'sh', '-c', 'echo hello from podman; exit 42']);
      expect([r.stdout, r.status]).toEqual(['hello from podman\n', 42]);
    });

    it.skipIf(skip)('--read-only, -v, --tmpfs, -e, -w and --user', () => {
      const vol = ownedDir(pm.who, 'vol');
      writeFileSync(join(vol, 'f'), 'volfile\n');
      chmodSync(join(vol, 'f'), 0o644);
      const r = pm.run([
        ...base, '--read-only', '-v', `${vol}:/v`, '--tmpfs', '/scratch', '-e', 'FOO=bar', '-w', '/v', '--user', '1000:1000', IMAGE,
        'sh', '-c', 'cat f; echo $FOO; pwd; id -u; id -g; touch /scratch/x && echo tmpfs-ok; touch /ro 2>&1; true',
      ]);
      expect([r.stdout, r.stderr, r.status]).toEqual(['volfile\nbar\n/v\n1000\n1000\ntmpfs-ok\ntouch: /ro: Read-only file system\n', '', 0]);
    });

    it.skipIf(skip)('-d, then exec (exit code), stop and rm', () => {
      const name = `pm-${mode}-${process.pid}`;
      const d = pm.run(['run', '-d', '--network', 'none', '--name', name, IMAGE, 'sh', '-c', 'trap "exit 0" TERM; while :; do sleep 0.1; done']);
      expect([d.stderr, d.status]).toEqual(['', 0]);
      try {
        const e = pm.run(['exec', name, 'sh', '-c', 'echo in-exec; hostname; exit 3']);
        expect([e.stdout.split('\n')[0], e.status]).toEqual(['in-exec', 3]);
        const state = () => pm.run(['inspect', '--format', '{{.State.Status}}', name]).stdout.trim();
        expect(state()).toBe('running');
        const s = pm.run(['stop', '-t', '10', name]);
        expect(s.status).toBe(0);
        expect(state()).toBe('exited');
      } finally {
        pm.run(['rm', '-f', name]);
      }
      expect(pm.run(['ps', '-a', '--format', '{{.Names}}']).stdout).not.toContain(name);
    });

    it.skipIf(skip)('-t gives the container a terminal', () => {
      // podman allocates the terminal through --console-socket (-t without -i: stdin stays
      // podman's, as with runc); the output comes back through the pty, hence \r\n.
      const r = pm.run([...base, '-t', IMAGE, 'sh', '-c', 'tty; [ -t 1 ] && echo stdout-is-a-tty']);
      expect([r.stdout, r.status]).toEqual([expect.stringMatching(/^\/dev\/pts\/\d+\r\nstdout-is-a-tty\r\n$/), 0]);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// containerd: a private daemon; ctr's `--runc-binary` makes the runc v2 shim call launch.
// ---------------------------------------------------------------------------------------------

/** An OCI image layout (one uncompressed layer: the busybox root filesystem) as a tar that
 * `ctr image import` takes, named by the annotation containerd reads. */
function ociArchive(dir: string, rootfs: string, name: string): string {
  const layout = join(dir, 'layout');
  mkdirSync(join(layout, 'blobs/sha256'), { recursive: true });
  const blob = (data: Buffer) => {
    const digest = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(layout, 'blobs/sha256', digest), data);
    return { digest: `sha256:${digest}`, size: data.length };
  };
  const layer = blob(execFileSync('tar', ['-C', rootfs, '-cf', '-', '.'], { maxBuffer: 64 << 20 }));
  const config = blob(Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux', config: { Cmd: ['sh'], Env: ['PATH=/bin'] },
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
  execFileSync('tar', ['-C', layout, '-cf', tar, '.']);
  return tar;
}

const ctrSkip = missing('root', 'busybox', 'dist', 'addon') ?? (has('containerd') && has('ctr') && has('containerd-shim-runc-v2') ? undefined : 'needs containerd (apt-get install containerd)');
describe(ctrSkip ? `containerd (ctr, runc v2 shim) running launch (skipped: ${ctrSkip})` : 'containerd (ctr, runc v2 shim) running launch', () => {
  let dir = '';
  let daemon: ChildProcess | undefined;
  const ctr = (args: string[], timeout = 60_000) =>
    spawnSync('ctr', ['--address', join(dir, 'sock'), '--namespace', 'launch-test-ctr', ...args], { encoding: 'utf8', timeout: timeout * SLOW });
  const NAME = 'docker.io/library/launch-busybox:test';

  beforeAll(async () => {
    if (ctrSkip) return;
    const who = runAs('root')!;
    dir = ownedDir(who, 'containerd');
    // No CRI (Kubernetes' plugin): only what ctr needs.
    writeFileSync(join(dir, 'config.toml'), 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n');
    daemon = spawn('containerd', ['--config', join(dir, 'config.toml'), '--root', join(dir, 'root'), '--state', join(dir, 'state'), '--address', join(dir, 'sock')], { stdio: 'ignore' });
    await until('containerd answers', () => ctr(['version'], 5000).status === 0);
    const imp = ctr(['image', 'import', '--no-unpack=false', ociArchive(dir, busyboxRootfs(who), NAME)]);
    expect([imp.stderr, imp.status]).toEqual(['', 0]);
  });
  afterAll(async () => {
    if (!daemon) return;
    daemon.kill('SIGTERM');
    await exitOf(daemon);
  });

  const runArgs = ['--snapshotter', 'native', '--runc-binary', LAUNCH];

  it.skipIf(ctrSkip)('runs a container to its exit code', () => {
    const r = ctr(['run', '--rm', ...runArgs, NAME, `c-${process.pid}`, 'sh', '-c', 'echo hello from containerd; exit 7']);
    expect([r.stdout, r.stderr, r.status]).toEqual(['hello from containerd\n', '', 7]);
  });

  it.skipIf(ctrSkip)('kills and deletes a detached container', async () => {
    const id = `k-${process.pid}`;
    const d = ctr(['run', '-d', ...runArgs, NAME, id, 'sleep', '1000']);
    expect([d.stderr, d.status]).toEqual(['', 0]);
    await until('the task runs', () => /RUNNING/.test(ctr(['task', 'ls']).stdout));
    // launch's own state record (runc's has no `started`), where the shim keeps runc's.
    // Its status is `created` as written at create when the native front did the start (which
    // removes the exec FIFO and leaves state.json alone: StateStore.read derives `running`).
    const state = JSON.parse(readFileSync(`/run/containerd/runc/launch-test-ctr/${id}/state.json`, 'utf8'));
    expect([state.id, typeof state.started]).toEqual([id, 'number']);
    expect(['created', 'running']).toContain(state.status);
    expect(existsSync(`/run/containerd/runc/launch-test-ctr/${id}/exec.fifo`)).toBe(false);
    expect(ctr(['task', 'kill', '--signal', 'SIGKILL', id]).status).toBe(0);
    await until('the task stopped', () => /STOPPED/.test(ctr(['task', 'ls']).stdout));
    expect(ctr(['task', 'delete', id]).status).toBe(0);
    expect(ctr(['container', 'delete', id]).status).toBe(0);
    expect(ctr(['task', 'ls']).stdout).not.toContain(id);
  });
});
