// Bundles for integration tests: a busybox-static root filesystem the tests build themselves,
// one per mode (owned by the user who runs the container), and a config.json per test.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, rmdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { TestRunner, expect } from 'vitest';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Spec } from '../../lib/spec/schema.js';
import { type RunAs, runAs } from './env.js';
// A cycle (launch.ts takes its directories from here), harmless: neither calls the other
// while it loads.
import { launchSync } from './launch.js';

const BUSYBOX = existsSync('/usr/bin/busybox') ? '/usr/bin/busybox' : '/bin/busybox';

/** LAUNCH_TEST_BASE=DIR makes every path the helpers give out the same in each run, so that
 * a second run of the suite finds the compiled bundles the first one stored (issue 17: the
 * suite passes against dist/launch with the cache cold, then warm). Each test file gets
 * DIR/<file>; its state roots and runtime directory have fixed names, and the n-th directory
 * a test asks for is named after the test and n. Cleanup keeps each `.compiled` (and the
 * directories above it) and removes the rest, as it removes everything without the variable.
 * Keep DIR short, as /tmp/launch-test-XXXXXX is: the paths under it end in sockets and in
 * podman's run root (test/integration/clients.test.ts). */
const FIXED = process.env.LAUNCH_TEST_BASE ? resolve(process.env.LAUNCH_TEST_BASE) : undefined;

let base: string | undefined;
/** One world-traversable directory per test file, removed by cleanupBase(): a fresh temp
 * directory, or DIR/<test file> under LAUNCH_TEST_BASE. */
export function testBase(): string {
  if (!base) {
    if (FIXED) {
      mkdirSync(FIXED, { recursive: true, mode: 0o755 });
      // The test user's launch reaches its state roots through it (mktemp -d makes 0700).
      if ((statSync(FIXED).mode & 0o005) !== 0o005) chmodSync(FIXED, 0o755);
      const file = expect.getState().testPath;
      if (!file) throw new Error('LAUNCH_TEST_BASE: testBase() called outside a test file');
      base = join(FIXED, basename(file).replace(/\.test\.ts$/, ''));
      // What an interrupted run left, but for the caches.
      if (existsSync(base)) clearKeepingCaches(base);
      mkdirSync(base, { recursive: true });
    } else {
      base = mkdtempSync(join(tmpdir(), 'launch-test-'));
    }
    chmodSync(base, 0o755);
  }
  return base;
}

export function cleanupBase(): void {
  if (base) {
    if (FIXED) clearKeepingCaches(base);
    else rmSync(base, { recursive: true, force: true });
  }
  base = undefined;
  dirsMade.clear();
}

/** Remove what `dir` holds but for each `.compiled` directory and the ones above it; true
 * when nothing was kept. */
function clearKeepingCaches(dir: string): boolean {
  let kept = false;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory() && (e.name === '.compiled' || !clearKeepingCaches(path))) kept = true;
    else rmSync(path, { recursive: true, force: true });
  }
  return !kept;
}

/** The argv that empties the test base the way cleanupBase() does, for a process that must do
 * it inside the test user's namespace (`launch unshare -- ...`: files of subordinate ids). */
export function cleanupBaseArgv(): string[] {
  if (!FIXED) return ['rm', '-rf', testBase()];
  const script = 'find "$1" -name .compiled -prune -o ! -type d -exec rm -f {} + && find "$1" -mindepth 1 -depth -type d -empty -delete';
  return ['sh', '-c', script, 'sh', testBase()];
}

/** cleanupBase() for a file whose test user leaves files of its subordinate ids (rootless
 * unpacks, image stores): when vitest runs unprivileged, only a process in the user namespace
 * that maps them may remove them, so `launch unshare` empties the base first. `ran` false:
 * the file's tests were all skipped (no registry, no node...), so there is none of those files
 * and launch need not be able to run. */
export function cleanupBaseInUserns(ran = true): void {
  const user = runAs('rootless');
  if (process.getuid!() !== 0 && user && ran) launchSync(user, ['unshare', '--', ...cleanupBaseArgv()]);
  cleanupBase();
}

const dirsMade = new Map<string, number>();

/** Under LAUNCH_TEST_BASE: who is asking (a short hash of the running test's full name, or
 * `file` in hooks and at collection) and how many directories it asked for before. Six
 * characters, as the random suffix: paths must stay short (podman refuses a run root of more
 * than 50, a socket's path has 107). Two tests with the same hash share the counter. */
function fixedSuffix(): string {
  const test = TestRunner.getCurrentTest();
  const scope = test ? createHash('sha256').update(test.fullName ?? test.name).digest('hex').slice(0, 4) : 'file';
  const n = dirsMade.get(scope) ?? 0;
  dirsMade.set(scope, n + 1);
  return `${scope}.${n}`;
}

function chownTree(path: string, who: RunAs): void {
  if (who.uid !== process.getuid!()) execFileSync('chown', ['-R', `${who.uid}:${who.gid}`, path]);
}

/** A directory owned by `who`, under the test base. */
export function ownedDir(who: RunAs, name: string): string {
  const dir = join(testBase(), `${name}-${who.mode}-${FIXED ? fixedSuffix() : Math.random().toString(36).slice(2, 8)}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chownTree(dir, who);
  return dir;
}

/** One directory per test file and mode (a state root, a runtime directory): ownedDir, but
 * under LAUNCH_TEST_BASE named by `name` alone, whichever test asks first. */
export function fileDir(who: RunAs, name: string): string {
  if (!FIXED) return ownedDir(who, name);
  const dir = join(testBase(), `${name}-${who.mode}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  chownTree(dir, who);
  return dir;
}

const rootfsCache = new Map<string, string>();

/** busybox as /bin/busybox with every applet linked, the usual top-level directories, a
 * passwd/group that names a few users, and a file to read. */
export function busyboxRootfs(who: RunAs): string {
  const cached = rootfsCache.get(who.mode);
  if (cached) return cached;
  const root = join(testBase(), `rootfs-${who.mode}`);
  for (const d of ['bin', 'dev', 'proc', 'sys', 'tmp', 'etc', 'root', 'home/user', 'data', 'run']) {
    mkdirSync(join(root, d), { recursive: true });
  }
  copyFileSync(BUSYBOX, join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const applets = execFileSync(BUSYBOX, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  for (const a of applets) if (a !== 'busybox') symlinkSync('busybox', join(root, 'bin', a));
  chmodSync(join(root, 'tmp'), 0o1777);
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nuser:x:1000:\nnogroup:x:65534:\n');
  // As images have them: what launch binds its network's files over.
  writeFileSync(join(root, 'etc/hosts'), '127.0.0.1\tlocalhost\n');
  writeFileSync(join(root, 'etc/resolv.conf'), '');
  writeFileSync(join(root, 'data/hello.txt'), 'hello from the rootfs\n');
  // A file the container may find but not execute (exit 126).
  writeFileSync(join(root, 'bin/not-executable'), '#!/bin/sh\necho never\n', { mode: 0o644 });
  chownTree(root, who);
  rootfsCache.set(who.mode, root);
  return root;
}

export interface BundleOptions {
  args: string[];
  /** Change the runc-style default config before it is written. */
  edit?: (spec: Spec) => void;
}

/** A bundle directory (owned by `who`) whose config is `runc spec [--rootless]` with the
 * shared busybox rootfs, no terminal, and the given args. */
export function makeBundle(who: RunAs, opts: BundleOptions): string {
  const dir = ownedDir(who, 'bundle');
  const spec = defaultSpec({ rootless: who.uid !== 0, uid: who.uid, gid: who.gid, args: opts.args });
  spec.process!.terminal = false;
  spec.root = { path: busyboxRootfs(who), readonly: true };
  opts.edit?.(spec);
  writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
  chownTree(dir, who);
  return dir;
}

/** Remove the parents our tests' absolute cgroupsPath (/launch-test/<id>) made, once empty:
 * launch, as runc, removes only a container's own cgroup. Test files using it run in
 * parallel, so each tries; the last one out succeeds. */
export function cleanupTestCgroups(names: readonly string[] = ['launch-test']): void {
  let hierarchies: string[] = [];
  try {
    hierarchies = readdirSync('/sys/fs/cgroup').map((h) => join('/sys/fs/cgroup', h));
  } catch {
    return;
  }
  for (const name of names) {
    for (const dir of [join('/sys/fs/cgroup', name), ...hierarchies.map((h) => join(h, name))]) {
      try {
        rmdirSync(dir);
      } catch {
        /* absent, or still in use by another test file */
      }
    }
  }
}
