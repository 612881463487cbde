// Attacks from the host around the container: another user's directory in /tmp where launch
// would keep a user's state, and a container reaching services the host keeps on 127.0.0.1.
import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, lchownSync, lstatSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import type { Server } from 'node:http';
import { join } from 'node:path';
import { defaultRoute } from '../../lib/network/files.js';
import type { Spec } from '../../lib/spec/schema.js';
import { cleanupBase, makeBundle } from '../helpers/bundle.js';
import { missing, runAs } from '../helpers/env.js';
import { SLOW, launchSync, launchWords, stateRoot, until } from '../helpers/launch.js';
import { hostServer, netChild, netMissing, netRun } from '../helpers/net.js';

const servers: Server[] = [];
afterAll(() => {
  servers.forEach((s) => s.close());
  cleanupBase();
});

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

// 11. A container's network reached the host's 127.0.0.1: `run` connected every new network
// namespace with pasta, whose default maps the gateway's address to the host's loopback (and
// slirp4netns's 10.0.2.2 is the host's loopback by default), so a root container reached the
// services the host binds there for its own users only (databases, agents, admin ports).
// runc leaves a new namespace with loopback only. Protections (lib/network/): `run` connects
// a namespace only when asked (--network, -p, the run.launch.network annotation); pasta gets
// --no-map-gw and slirp4netns --disable-host-loopback unless the mode ends in :host-loopback;
// host.containers.internal is written only where it works. Checked on the code before: the
// default run reached the server (through pasta) and its /etc/hosts named the host; pasta ran
// without --no-map-gw; slirp4netns reached the server at 10.0.2.2; `:host-loopback` was refused
// as an unknown mode. Every server here is on 127.0.0.1; every address the containers try is
// one that stays on this machine (the gateway only where no route or pasta's map leads it).
const ownNetns = (s: Spec) => {
  if (!s.linux!.namespaces!.some((n) => n.type === 'network')) s.linux!.namespaces!.push({ type: 'network' });
};
const netId = (tag: string) => `lo-${tag}-${process.pid}-${Math.random().toString(36).slice(2, 6)}`;
/** What the container says about the host's loopback: the name in /etc/hosts, and whether a
 * GET to `addr`:port answered (`timeout` bounds each try). */
const probe = (addrs: string[], port: number) =>
  ['sh', '-c', `grep -c host.containers.internal /etc/hosts; ${addrs.map((a) => `timeout 5 wget -q -O - http://${a}:${port}/ 2>/dev/null || echo "no ${a}"`).join('; ')}`];

for (const mode of ['root', 'rootless'] as const) {
  const who = () => runAs(mode)!;
  const need = missing(mode, 'userns', 'busybox');
  const noPasta = need ?? netMissing(runAs(mode), 'pasta');
  const noSlirp = need ?? netMissing(runAs(mode), 'slirp4netns');
  describe(`attacks: the host's loopback from a container's network as ${mode}${need ? ` (skipped: ${need})` : ''}`, () => {
    it.skipIf(noPasta)('run, unasked: loopback only, as runc; the host\'s 127.0.0.1 is out of reach', async () => {
      const { port, server } = await hostServer('reached the host');
      servers.push(server);
      // The gateway pasta mapped to the host's loopback: now there is no route to it at all.
      const gw = defaultRoute()?.gateway;
      const bundle = makeBundle(who(), { args: probe(['host.containers.internal', ...(gw ? [gw] : [])], port), edit: ownNetns });
      // Through netChild, so that pasta could have run (the user's usable /dev/net/tun).
      const r = await netRun(who(), ['run', '--bundle', bundle, netId('def')]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe(`0\nno host.containers.internal\n${gw ? `no ${gw}\n` : ''}`);
      expect(r.status).toBe(0);
    });

    it.skipIf(noPasta)('--network pasta maps no gateway to the host\'s loopback; pasta:host-loopback does', async () => {
      const { port, server } = await hostServer('reached the host through pasta');
      servers.push(server);
      const id = netId('pasta');
      const root = stateRoot(who());
      // pasta without its map sends the gateway's traffic to the real gateway, off this machine:
      // this case reads pasta's command line instead of trying.
      const bundle = makeBundle(who(), { args: ['sh', '-c', 'grep -c host.containers.internal /etc/hosts; exec sleep 30'], edit: ownNetns });
      const child = netChild(who(), ['run', '--network', 'pasta', '--bundle', bundle, id]);
      let out = '';
      child.stdout!.on('data', (d) => (out += d));
      try {
        await until('the container has started', () => out.includes('\n'));
        expect(out).toBe('0\n');
        const { pid } = JSON.parse(readFileSync(join(root, id, 'network.json'), 'utf8')) as { pid: number };
        expect(readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')).toContain('--no-map-gw');
      } finally {
        launchSync(who(), ['kill', id, 'KILL']);
        await new Promise((resolve) => child.once('close', resolve));
      }
      const opted = makeBundle(who(), { args: probe(['host.containers.internal'], port), edit: ownNetns });
      const r = await netRun(who(), ['run', '--network', 'pasta:host-loopback', '--bundle', opted, netId('pastalo')]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toBe('1\nreached the host through pasta');
      expect(r.status).toBe(0);
    });

    it.skipIf(noSlirp)('--network slirp4netns: 10.0.2.2 is not the host\'s loopback; slirp4netns:host-loopback makes it so', async () => {
      const { port, server } = await hostServer('reached the host through slirp4netns');
      servers.push(server);
      const bundle = makeBundle(who(), { args: probe(['10.0.2.2'], port), edit: ownNetns });
      const closed = await netRun(who(), ['run', '--network', 'slirp4netns', '--bundle', bundle, netId('slirp')]);
      expect(closed.stderr).toBe('');
      expect(closed.stdout).toBe('0\nno 10.0.2.2\n');
      expect(closed.status).toBe(0);
      const opened = await netRun(who(), ['run', '--network', 'slirp4netns:host-loopback', '--bundle', bundle, netId('slirplo')]);
      expect(opened.stderr).toBe('');
      expect(opened.stdout).toBe('1\nreached the host through slirp4netns');
      expect(opened.status).toBe(0);
    });
  });
}
