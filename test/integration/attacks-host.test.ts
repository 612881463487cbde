// Attacks from the host around the container: another user's directory in /tmp where launch
// would keep a user's state, and a container reaching services the host keeps on 127.0.0.1.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, lchownSync, lstatSync, mkdirSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { cleanupBase, makeBundle } from '../helpers/bundle.js';
import { missing, runAs } from '../helpers/env.js';
import { SLOW, launchWords } from '../helpers/launch.js';

afterAll(() => cleanupBase());

// 10. The default state root of a user without XDG_RUNTIME_DIR was /tmp/launch-<uid>, which
// any user may make first: a directory of theirs there stopped every verb with a line that
// said neither whose it was nor what to do. Protections: defaultRoot (lib/state/store.ts)
// takes the user's own /run/user/<uid> when it exists (nobody else can make it; runc never
// uses /tmp: it fails on /run/runc instead), and StateStore's refusal of /tmp/launch-<uid>
// names the owner and the way out. Checked on the code before: the first test failed (the
// line was `state root belongs to another user `/tmp/launch-1001``, and a planted dangling
// symlink gave `cannot create the state root ...: File exists (EEXIST)`), the second too (with
// /run/user/<uid> there, every verb was still refused on /tmp/launch-<uid>).
describe(`attacks: another user's /tmp/launch-<uid>${missing('root', 'rootless', 'busybox') ? ` (skipped: ${missing('root', 'rootless', 'busybox')})` : ''}`, () => {
  const skipNeeds = missing('root', 'rootless', 'busybox');
  const user = () => runAs('rootless')!;
  const tmpRoot = () => `/tmp/launch-${user().uid}`;
  const runDir = () => `/run/user/${user().uid}`;
  const nobody = { uid: 65534, gid: 65534 };
  // The test owns these paths only if they were not there: on a machine where they are, skip.
  const taken = () => (skipNeeds ? undefined : [tmpRoot(), runDir()].find((p) => existsSync(p) || isLink(p)));
  const skip = skipNeeds ?? (taken() ? `${taken()} exists already` : undefined);

  /** launch as the user, with neither XDG_RUNTIME_DIR nor --root: the default root. */
  const asUser = (args: string[], quiet = false) => {
    const [file, ...argv] = [...launchWords(), ...args];
    // quiet: a created container's init would hold pipes open (spawnSync waits for them).
    const r = spawnSync(file!, argv, {
      uid: user().uid, gid: user().gid, env: { PATH: process.env.PATH, HOME: user().home },
      encoding: 'utf8', stdio: quiet ? 'ignore' : ['ignore', 'pipe', 'pipe'], timeout: 30_000 * SLOW,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const verbs = (bundle: string, id: string) => [['list'], ['state', id], ['run', '--bundle', bundle, id], ['create', '--bundle', bundle, id], ['delete', '--force', id], ['kill', id]];

  it.skipIf(skip)('a directory or symlink of another user there: one line naming it, its owner and what to do; nothing made', () => {
    const bundle = makeBundle(user(), { args: ['true'] });
    const id = `tmproot-${process.pid}`;
    const way = `set XDG_RUNTIME_DIR or pass --root to use a directory of your own instead of \`${tmpRoot()}\``;
    try {
      mkdirSync(tmpRoot(), { mode: 0o755 });
      lchownSync(tmpRoot(), nobody.uid, nobody.gid);
      for (const verb of verbs(bundle, id)) {
        const r = asUser(verb);
        expect.soft(r.stderr, verb.join(' ')).toBe(`launch: ${verb[0]}${verb[0] === 'list' ? '' : ` ${id}`}: state root belongs to another user (uid 65534, nobody); ${way}\n`);
        expect.soft(r.status, verb.join(' ')).toBe(125);
      }
      expect(readdirSync(tmpRoot())).toEqual([]);
      expect(lstatSync(tmpRoot()).uid).toBe(nobody.uid);
      rmSync(tmpRoot(), { recursive: true });
      // A dangling symlink: mkdir -p cannot make it, and must not follow it.
      symlinkSync(`/tmp/launch-elsewhere-${process.pid}`, tmpRoot());
      lchownSync(tmpRoot(), nobody.uid, nobody.gid);
      const r = asUser(['run', '--bundle', bundle, id]);
      expect(r.stderr).toBe(`launch: run ${id}: state root is not a directory; ${way}\n`);
      expect(r.status).toBe(125);
      expect(existsSync(`/tmp/launch-elsewhere-${process.pid}`)).toBe(false);
    } finally {
      rmSync(tmpRoot(), { recursive: true, force: true });
    }
  });

  it.skipIf(skip)('with the user\'s own /run/user/<uid> there, every verb works through it and /tmp is not used', () => {
    const bundle = makeBundle(user(), { args: ['sh', '-c', 'echo ran'] });
    const id = `runuser-${process.pid}`;
    try {
      mkdirSync(tmpRoot(), { mode: 0o755 });
      lchownSync(tmpRoot(), nobody.uid, nobody.gid);
      mkdirSync(runDir(), { mode: 0o700 });
      lchownSync(runDir(), user().uid, user().gid);
      const run = asUser(['run', '--bundle', bundle, id]);
      expect([run.stderr, run.stdout, run.status]).toEqual(['', 'ran\n', 0]);
      expect(asUser(['create', '--bundle', bundle, id], true).status).toBe(0);
      expect(readdirSync(`${runDir()}/launch`)).toContain(id);
      const list = asUser(['list', '-q']);
      expect([list.stderr, list.stdout, list.status]).toEqual(['', `${id}\n`, 0]);
      expect(asUser(['delete', '--force', id]).status).toBe(0);
      expect(readdirSync(`${runDir()}/launch`).filter((n) => !n.startsWith('.'))).toEqual([]);
      expect(readdirSync(tmpRoot())).toEqual([]);
    } finally {
      asUser(['delete', '--force', id]);
      rmSync(runDir(), { recursive: true, force: true });
      rmSync(tmpRoot(), { recursive: true, force: true });
    }
  });
});

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
