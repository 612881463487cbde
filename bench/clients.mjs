// The callers' view (issue 17): podman running each runtime as its OCI runtime, `podman run
// --rm` of /bin/true (podman and conmon call create, start, state and delete). As root only:
// rootless podman needs a storage and user namespace set-up of the user's own (the suite's
// test/integration/clients.test.ts does that; the bench does not repeat it). crun is left
// out: podman would run it against this host's cgroup-v1 hybrid tree, which crun refuses.
// containerd's `ctr run --rm` is not measured yet (it needs a containerd daemon of the bench's own).
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { capture, describeFailure, timed } from './util.mjs';

const IMAGE = 'localhost/launch-bench:busybox';
const CGROUP_PARENT = 'launch-bench-podman';

/** A podman of the bench's own (storage, run root, config) with one runtime entry per row. */
function setUp(mode, runtimes) {
  const dir = join(mode.dir, 'podman');
  mkdirSync(dir, { recursive: true });
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
  const podman = (...args) => ['podman', '--root', join(dir, 'storage'), '--runroot', join(dir, 'run'), '--tmpdir', join(dir, 'tmp'),
    '--storage-driver', 'vfs', '--cgroup-manager', 'cgroupfs', '--events-backend', 'file', ...args];
  const env = { ...process.env, CONTAINERS_CONF: conf };
  const tar = join(dir, 'rootfs.tar');
  spawnSync('tar', ['-C', join(mode.dir, 'rootfs'), '-cf', tar, '.']);
  const imp = podman('import', '-q', tar, IMAGE);
  const r = spawnSync(imp[0], imp.slice(1), { env, encoding: 'utf8' });
  if (r.status !== 0) return { error: `podman import: ${describeFailure(r)}` };
  const cleanup = () => {
    spawnSync('rm', ['-rf', dir]);
    // The cgroups podman and conmon made under the bench's --cgroup-parent, once empty.
    spawnSync('find', ['/sys/fs/cgroup', '-depth', '-type', 'd', '-path', `*/${CGROUP_PARENT}*`, '-exec', 'rmdir', '{}', '+'], { stdio: 'ignore' });
  };
  return { podman, env, cleanup };
}

/** Rows for `interleave`: one per runtime, `podman run --rm IMAGE /bin/true`. */
export function podmanEntries(mode, runtimes, entry) {
  if (mode.rootless) return { why: 'rootless podman is not set up by the bench (test/integration/clients.test.ts runs it)' };
  if (capture(['podman', '--version']).status !== 0) return { why: 'needs podman (apt-get install podman)' };
  const rts = runtimes.filter((rt) => rt.name !== 'crun');
  const p = setUp(mode, rts);
  if (p.error) return { why: p.error };
  const entries = rts.map((rt) => entry(rt.name, () => {
    const argv = p.podman('--runtime', rt.name, 'run', '--rm', '--network', 'none', '--cgroup-parent', `/${CGROUP_PARENT}`, IMAGE, '/bin/true');
    return timed(argv, mode.errFile, p.env);
  }));
  return { entries, cleanup: p.cleanup };
}
