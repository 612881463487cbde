// Who the integration tests run as, and what the machine offers. Each need is probed once;
// a test that lacks one is skipped with the need as the reason (never counted as a pass).
import { execFileSync, spawnSync } from 'node:child_process';
import { accessSync, chownSync, constants, existsSync, mkdirSync, rmdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';
import { passwdEntry, rootlessUserMissing, testUserName } from './test-user.js';

/** `delegated`: the unprivileged user, started (by root) inside a cgroup-v2 subtree it owns. */
export type Mode = 'root' | 'rootless' | 'delegated';

export interface RunAs {
  mode: Mode;
  uid: number;
  gid: number;
  home: string;
  name: string;
  /** delegated: the leaf cgroup the user's launch starts in (see delegatedUser). */
  cgroupLeaf?: string;
}

const isRoot = () => process.getuid!() === 0;

let cachedUser: RunAs | null | undefined;

/** The unprivileged user the rootless tests run as: ourselves when we are not root, else the
 * user named by LAUNCH_TEST_USER (default `launchtest`, which .ci/run creates; when it is
 * missing, test/helpers/global-setup.ts says so once per run). */
export function rootlessUser(): RunAs | undefined {
  if (cachedUser !== undefined) return cachedUser ?? undefined;
  if (!isRoot()) {
    cachedUser = { mode: 'rootless', uid: process.getuid!(), gid: process.getgid!(), home: process.env.HOME ?? '/tmp', name: process.env.USER ?? '' };
    return cachedUser;
  }
  const name = testUserName();
  const entry = passwdEntry(name);
  cachedUser = entry ? { mode: 'rootless', ...entry, name } : null;
  return cachedUser ?? undefined;
}

export function runAs(mode: Mode): RunAs | undefined {
  if (mode === 'root') return isRoot() ? { mode, uid: 0, gid: 0, home: '/root', name: 'root' } : undefined;
  if (mode === 'delegated') return delegatedUser();
  return rootlessUser();
}

const CGROUP2 = '/sys/fs/cgroup';
let leaf: string | undefined;

/** The subtree the machine delegates to the test user, as systemd's user@UID.service: on the
 * cgroup-v2 guest (test/vm), /sys/fs/cgroup/user-UID owned by the user. */
function delegatedRoot(): string | undefined {
  const user = rootlessUser();
  if (!user || !existsSync(join(CGROUP2, 'cgroup.controllers'))) return undefined;
  const dir = join(CGROUP2, `user-${user.uid}`);
  try {
    return statSync(dir).uid === user.uid ? dir : undefined;
  } catch {
    return undefined;
  }
}

/** The test user, whose launch runs in a leaf of its delegated subtree (made here, as root:
 * moving a process in needs write access to the common ancestor, the root cgroup). */
export function delegatedUser(): RunAs | undefined {
  const user = rootlessUser();
  const root = delegatedRoot();
  if (!user || !root || !isRoot()) return undefined;
  if (!leaf) {
    leaf = join(root, `tests-${process.pid}`);
    mkdirSync(leaf, { recursive: true });
    chownSync(leaf, user.uid, user.gid);
    for (const f of ['cgroup.procs', 'cgroup.threads', 'cgroup.subtree_control']) chownSync(join(leaf, f), user.uid, user.gid);
  }
  return { ...user, mode: 'delegated', cgroupLeaf: leaf };
}

/** Remove the leaf made by delegatedUser (empty once its launches have exited). */
export function cleanupDelegated(): void {
  if (leaf) {
    try {
      rmdirSync(leaf);
    } catch {
      /* a process still in it: reported by the test that left it */
    }
  }
  leaf = undefined;
}

function probeUserns(): boolean {
  const r = spawnSync('unshare', ['--user', '--map-root-user', 'true'], { stdio: 'ignore' });
  return r.status === 0;
}

const probes: Record<string, () => string | undefined> = {
  root: () => (isRoot() ? undefined : 'needs root'),
  rootless: () => (rootlessUser() ? undefined : `needs an unprivileged user: ${rootlessUserMissing() ?? `no user \`${testUserName()}\``}`),
  userns: () => (probeUserns() ? undefined : 'needs user namespaces (kernel.unprivileged_userns_clone)'),
  busybox: () => (existsSync('/usr/bin/busybox') || existsSync('/bin/busybox') ? undefined : 'needs busybox-static (apt-get install busybox-static)'),
  runc: () => {
    try {
      execFileSync('runc', ['--version'], { stdio: 'ignore' });
      return undefined;
    } catch {
      return 'needs runc (apt-get install runc), the reference `spec` generator';
    }
  },
  newuidmap: () => {
    try {
      accessSync('/usr/bin/newuidmap', constants.X_OK);
      return undefined;
    } catch {
      return 'needs newuidmap/newgidmap (apt-get install uidmap)';
    }
  },
  addon: () => (existsSync(new URL('../../build/Release/launch_native.node', import.meta.url)) ? undefined : 'needs the addon (npm install)'),
  delegated: () =>
    !isRoot()
      ? 'needs root (to start the test user inside its delegated cgroup)'
      : delegatedRoot()
        ? undefined
        : 'needs a cgroup v2 subtree delegated to the test user (/sys/fs/cgroup/user-UID, as the test/vm guest makes)',
  dist: () => (existsSync(new URL('../../dist/cli/main.js', import.meta.url)) ? undefined : 'needs the build (npm run build)'),
};

const results = new Map<string, string | undefined>();

/** The reason the first missing need is missing, or undefined when all are there. */
export function missing(...needs: (keyof typeof probes)[]): string | undefined {
  for (const need of needs) {
    if (!results.has(need)) results.set(need, probes[need]!());
    const why = results.get(need);
    if (why) return why;
  }
  return undefined;
}

/** One describe block per mode; a block whose needs are missing says why in its title and
 * its tests skip themselves (each test uses `it.skipIf(skip)`). */
export function eachMode(title: string, needs: (keyof typeof probes)[], body: (mode: Mode, skip: string | undefined) => void): void {
  for (const mode of ['root', 'rootless'] as Mode[]) {
    const skip = missing(mode, ...needs);
    describe(skip ? `${title} as ${mode} (skipped: ${skip})` : `${title} as ${mode}`, () => body(mode, skip));
  }
}
