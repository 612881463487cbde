// Attacks on the container's mounts by whoever owns its root filesystem (an ordinary host user,
// a sibling container of the same bundle): symlinks where proc goes, entries swapped while
// launch works, an image /dev/null that leads back to what it should hide, mounts inside /proc.
// Each block says how it was seen failing before its protection (addon/child/mountfd.c,
// lib/plan/rootfs.ts) existed.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Spec } from '../../lib/spec/schema.js';
import { busyboxRootfs, cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { type RunAs, eachMode, runAs } from '../helpers/env.js';
import { launchSync, launchWords, runBundle, spawnOptions, stateRoot } from '../helpers/launch.js';

afterAll(cleanupBase);

const sh = (script: string) => ['/bin/sh', '-c', script];
const noPython = spawnSync('python3', ['-c', 'import ctypes'], { stdio: 'ignore' }).status === 0 ? undefined : 'needs python3 (the racer calls renameat2 through ctypes)';

function customRootfs(who: RunAs, name: string): string {
  const dir = ownedDir(who, name);
  execFileSync('cp', ['-a', `${busyboxRootfs(who)}/.`, dir]);
  return dir;
}

/** Swap two names of a directory with renameat2(RENAME_EXCHANGE) as fast as it can, for at
 * most `seconds` (python3's ctypes: no compiler needed). */
function racer(a: string, b: string, seconds: number): ChildProcess {
  const py = [
    'import ctypes, sys, time',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'a, b, end = sys.argv[1].encode(), sys.argv[2].encode(), time.time() + float(sys.argv[3])',
    'while time.time() < end:',
    '    libc.renameat2(-100, a, -100, b, 2)',
  ].join('\n');
  return spawn('python3', ['-c', py, a, b, String(seconds)], { stdio: 'ignore' });
}

const stop = (p: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    p.once('exit', () => resolve());
    p.kill('SIGKILL');
  });

const idsLeft = (who: RunAs, prefix: string) => {
  const r = launchSync(who, ['list', '-q']);
  return r.stdout.split('\n').filter((l) => l.startsWith(prefix));
};

// Every name proc could be found at, and what an unmasked one gives away: /proc/kcore a
// regular file (masked: the null device), /proc/sys writable (as root: the host's sysctls).
const PROC_PROBE = (names: string[]) => sh(
  `for i in 1 2 3; do for d in ${names.join(' ')}; do ` +
  '[ -e $d/self/stat ] || continue; echo "proc at $d"; ' +
  '[ -f $d/kcore ] && echo "BAD unmasked $d/kcore"; ' +
  '( : >> $d/sys/kernel/core_pattern ) 2>/dev/null && echo "BAD writable $d/sys"; ' +
  'done; done; true',
);

// 1. proc on a symlink. A rootfs with /proc -> /dev/shm/../../q and /dev/shm -> /a/b/c got proc
// mounted at /a/q (the symlinks followed, inside the root); after the config's tmpfs on /dev,
// /proc led to the empty /q, every masked and read-only path there was ENOENT and skipped as
// optional, and a root container could write the host's /proc/sys/kernel/core_pattern.
// Protection: proc, sysfs, mqueue and devpts go on a directory that is not a symlink (MOUNT_FS).
// Seen failing before it: the run succeeded, printing "BAD unmasked /a/q/kcore" and, as root,
// "BAD writable /a/q/sys".
eachMode('attacks: proc mounted through symlinks', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('a /proc that is a symlink is refused, naming mounts[0], and nothing is left', () => {
    const root = customRootfs(who(), 'rootfs-proclink');
    rmSync(join(root, 'proc'), { recursive: true });
    for (const d of ['a/b/c', 'q', 'dev']) mkdirSync(join(root, d), { recursive: true });
    symlinkSync('/dev/shm/../../q', join(root, 'proc'));
    symlinkSync('/a/b/c', join(root, 'dev/shm'));
    execFileSync('chown', ['-hR', `${who().uid}:${who().gid}`, root]);
    const bundle = makeBundle(who(), { args: PROC_PROBE(['/proc', '/q', '/a/q']), edit: (s) => { s.root = { path: root, readonly: false }; } });
    const id = `proclink-${process.pid}-${mode}`;
    const r = runBundle(who(), bundle, { id });
    expect(r.stdout).not.toContain('BAD');
    expect(r.status).toBe(125);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/mounts\[0\]: mount `proc` on `\/proc`: .*\((ELOOP|ENOTDIR)\)$/);
    expect(idsLeft(who(), id)).toEqual([]);
    // Nothing mounted or made where the links led.
    expect(readdirSync(join(root, 'q'))).toEqual([]);
    expect(existsSync(join(root, 'a/q'))).toBe(false);
  });
});

// 2. The same by racing: /proc swapped with a symlink (renameat2 RENAME_EXCHANGE) while launch
// starts the container. A check of /proc before the mount is not enough; the masks must act on
// the proc mount itself. Protection: masked and read-only paths under proc and sysfs are opened
// beneath the mount's fd (MASK_AT, READONLY_AT). Seen failing before it: with the proc mount
// and masks of HEAD 5062967 (RESOLVE_IN_ROOT, masks by path), 9 to 17 of 30 starts printed
// "BAD unmasked /q/kcore" (and, as root, "BAD writable /q/sys").
eachMode('attacks: proc swapped with a symlink during start', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip ?? noPython)('every start either fails or gives a proc that is masked and read-only wherever it is', async () => {
    const root = customRootfs(who(), 'rootfs-procrace');
    mkdirSync(join(root, 'q'));
    symlinkSync('/q', join(root, 'plink'));
    execFileSync('chown', ['-hR', `${who().uid}:${who().gid}`, root]);
    const bundle = makeBundle(who(), { args: PROC_PROBE(['/proc', '/plink', '/q']), edit: (s) => { s.root = { path: root, readonly: false }; } });
    const race = racer(join(root, 'proc'), join(root, 'plink'), 600);
    let started = 0;
    const bad: string[] = [];
    try {
      for (let i = 0; i < 30; i++) {
        const r = runBundle(who(), bundle);
        if (r.status === 0) started++;
        bad.push(...r.stdout.split('\n').filter((l) => l.startsWith('BAD')));
      }
    } finally {
      await stop(race);
    }
    expect(bad).toEqual([]);
    // The race must not simply make every start fail: most land on the directory.
    expect(started).toBeGreaterThan(0);
  }, 300_000);
});

// 3. A read-only bind made writable by a race: the remount that made it read-only looked the
// target up again by path, so a swapped entry sent the remount to another mount. Protection:
// a bind gets its flags while detached (open_tree + mount_setattr), then is attached
// (move_mount). Seen failing before it: 4 to 12 of 40 starts wrote into the read-only source.
eachMode('attacks: a read-only bind swapped during start', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip ?? noPython)('the read-only source is never written, whatever name it lands at', async () => {
    const root = customRootfs(who(), 'rootfs-rorace');
    for (const d of ['ro', 'rw']) mkdirSync(join(root, d));
    execFileSync('chown', ['-hR', `${who().uid}:${who().gid}`, root]);
    const roSrc = ownedDir(who(), 'ro-src');
    const rwSrc = ownedDir(who(), 'rw-src');
    writeFileSync(join(roSrc, 'ro-marker'), 'ro\n');
    execFileSync('chown', [`${who().uid}:${who().gid}`, join(roSrc, 'ro-marker')]);
    const bundle = makeBundle(who(), {
      // cd first: the racer goes on swapping the names while this runs.
      args: sh('for d in /ro /rw; do (cd $d && [ -e ro-marker ] && touch written 2>/dev/null && echo "BAD wrote $d"); done; true'),
      edit: (s) => {
        s.root = { path: root, readonly: false };
        // The writable one first: on HEAD the read-only remount could then land on it.
        s.mounts!.push(
          { destination: '/rw', type: 'bind', source: rwSrc, options: ['bind'] },
          { destination: '/ro', type: 'bind', source: roSrc, options: ['bind', 'ro'] },
        );
      },
    });
    const race = racer(join(root, 'ro'), join(root, 'rw'), 600);
    const bad: string[] = [];
    try {
      for (let i = 0; i < 40; i++) bad.push(...runBundle(who(), bundle).stdout.split('\n').filter((l) => l.startsWith('BAD')));
    } finally {
      await stop(race);
    }
    expect(bad).toEqual([]);
    expect(readdirSync(roSrc)).toEqual(['ro-marker']);
  }, 300_000);
});

// 8. Masks that were no-ops: with no tmpfs on /dev, masking bound the image's own /dev/null,
// which can be a symlink back to the masked file. Protection: a masked file gets the host's
// /dev/null, cloned before pivot_root (mountfd.c fs_open_devnull). Seen failing before it, as
// root: `cat /secret` printed the secret (rootless binds the host's /dev/null over the image's
// first, which hid it by accident).
eachMode('attacks: an image /dev/null that leads back to the masked file', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('a masked file reads empty even when the image /dev/null is a symlink to it', () => {
    const root = customRootfs(who(), 'rootfs-nulllink');
    writeFileSync(join(root, 'secret'), 'top secret\n');
    symlinkSync('/secret', join(root, 'dev/null'));
    execFileSync('chown', ['-hR', `${who().uid}:${who().gid}`, root]);
    const bundle = makeBundle(who(), {
      args: sh('cat /secret; echo "size $(wc -c < /secret)"'),
      edit: (s: Spec) => {
        s.root = { path: root, readonly: false };
        // No tmpfs on /dev: the image's /dev is what the container gets.
        s.mounts = s.mounts!.filter((m) => !m.destination.startsWith('/dev'));
        s.linux!.maskedPaths = ['/secret'];
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).not.toContain('top secret');
    expect(r.stdout).toContain('size 0');
    expect(r.status).toBe(0);
  });
});

// 9. Mounts inside /proc: accepted before (a tmpfs over /proc/sys undid its read-only bind and
// the masks under it); runc refuses them except for its list of files (lxcfs). Seen failing
// before the check (lib/plan/rootfs.ts checkProcDestination): the run succeeded.
eachMode('attacks: mounts inside /proc', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('a mount inside /proc is refused with its config path; /proc/meminfo (runc\'s list) is allowed', () => {
    for (const dest of ['/proc/sys', '/proc/kcore', '/proc/self/../sys/kernel', '/proc']) {
      const bundle = makeBundle(who(), {
        args: ['true'],
        edit: (s) => {
          s.mounts!.push({ destination: dest, type: 'tmpfs', source: 'tmpfs' });
        },
      });
      const n = 7; // after runc's seven default mounts
      const r = runBundle(who(), bundle);
      expect(r.status, dest).toBe(125);
      expect(r.stderr.trim().split('\n'), dest).toHaveLength(1);
      expect(r.stderr, dest).toContain(`mounts[${n}].destination:`);
      expect(r.stderr, dest).toContain('is inside /proc');
    }
    const src = join(ownedDir(who(), 'meminfo'), 'meminfo');
    writeFileSync(src, 'MemTotal: 1 kB\n');
    const bundle = makeBundle(who(), {
      args: ['cat', '/proc/meminfo'],
      edit: (s) => {
        s.mounts!.push({ destination: '/proc/meminfo', type: 'bind', source: src, options: ['bind', 'ro'] });
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('MemTotal: 1 kB\n');
  });
});

// 10. Sysctl writes redirected (CVE-2025-52881). linux.sysctl was written after pivot_root, by
// its path in the container's tree: a mount whose destination is an image symlink into /proc
// (/data -> /proc/sys/net, which the check of mount destinations does not see) put a directory
// of the image's owner at /proc/sys/net, and `net.x.<name>` (a key of the network namespace)
// went wherever its `x` led. Protection: sysctls are written through the host's /proc before
// the container's root is set up (lib/plan/build.ts). Seen failing before it, as root: the run
// succeeded and printed 500 (the init's own oom_score_adj, written through x -> /proc/self), and
// x -> /proc/sys/fs with `net.x.lease-break-time` changed the host's value (core_pattern the
// same way). Rootless, the redirected write was refused by chance: the init is not dumpable, so
// its /proc files are the host root's.
eachMode('attacks: sysctl writes through the container\'s /proc', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('a sysctl path the image leads elsewhere is not written there', () => {
    const root = customRootfs(who(), 'rootfs-sysctl');
    rmSync(join(root, 'data'), { recursive: true });
    symlinkSync('/proc/sys/net', join(root, 'data'));
    const vol = ownedDir(who(), 'sysctl-vol');
    symlinkSync('/proc/self', join(vol, 'x'));
    execFileSync('chown', ['-hR', `${who().uid}:${who().gid}`, root, vol]);
    const bundle = makeBundle(who(), {
      args: sh('echo "adj $(cat /proc/self/oom_score_adj)"'),
      edit: (s: Spec) => {
        s.root = { path: root, readonly: true };
        if (!s.linux!.namespaces!.some((n) => n.type === 'network')) s.linux!.namespaces!.push({ type: 'network' });
        s.mounts!.push({ destination: '/data', type: 'bind', source: vol, options: ['rbind'] });
        s.linux!.sysctl = { 'net.x.oom_score_adj': '500' };
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).not.toContain('adj 500');
    expect(r.status).toBe(125);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('linux.sysctl["net.x.oom_score_adj"]');
  });
});

// 11. /dev/console bound from a name the image planted (CVE-2025-52565). The console was bound
// from `/dev/pts/<N>` looked up after pivot_root: with devpts elsewhere (here /mypts, the
// image's /dev/ptmx leading to it) that name was the image's own, and /dev/pts/0 ->
// /proc/sys/kernel/core_pattern made /dev/console a writable bind of it, outside the read-only
// /proc/sys (as root: the host's core_pattern). Protection: the console is bound from the pty
// slave launch holds (addon/child/console.c). Seen failing before it: /dev/console was "regular
// empty file" on proc, and `echo 47 > /dev/console` set the host's sysctl the link named.
eachMode('attacks: /dev/console from an image /dev/pts', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;

  it.skipIf(skip)('/dev/console is the container\'s pty, whatever /dev/pts/N is in the image', (ctx) => {
    if (!hasScript) ctx.skip('needs `script` (util-linux) to give launch a terminal');
    const root = customRootfs(who(), 'rootfs-console');
    mkdirSync(join(root, 'dev/pts'), { recursive: true });
    mkdirSync(join(root, 'mypts'));
    symlinkSync('/mypts/ptmx', join(root, 'dev/ptmx'));
    for (let n = 0; n < 4; n++) symlinkSync('/proc/sys/kernel/core_pattern', join(root, `dev/pts/${n}`));
    execFileSync('chown', ['-hR', `${who().uid}:${who().gid}`, root]);
    const bundle = makeBundle(who(), {
      args: sh('stat -c "console %F" /dev/console; [ /dev/console -ef "$(tty)" ] && echo console-is-tty; true'),
      edit: (s: Spec) => {
        s.root = { path: root, readonly: false };
        s.process!.terminal = true;
        // The image's /dev, and devpts where the image's /dev/ptmx leads.
        s.mounts = s.mounts!.filter((m) => !m.destination.startsWith('/dev'));
        s.mounts.push({ destination: '/mypts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] });
      },
    });
    const cmd = `${launchWords().map((w) => `"${w}"`).join(' ')} --root "${stateRoot(who())}" run --bundle "${bundle}" console-$$`;
    const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { ...spawnOptions(who()), encoding: 'utf8', timeout: 30_000 });
    expect(r.stdout).toContain('console character special file');
    expect(r.stdout).toContain('console-is-tty');
    expect(r.status).toBe(0);
  });
});

// 12. Directory masks sent elsewhere. A masked directory got its tmpfs by mount(2) on
// /proc/self/fd/N after pivot_root, looked up in the container's /proc: a volume mounted through
// an image symlink (/data -> /proc/self) put the image owner's fd/N -> /tmp there, and the
// tmpfs went on /tmp, leaving the masked directory (/sys/firmware, a volume) readable.
// Protection: the tmpfs is made detached and attached to the masked directory's fd
// (addon/child/mountfd.c mask_fd). Seen failing before it: `ls /private` listed the secret.
eachMode('attacks: masked directories through the container\'s /proc', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('a masked directory is empty even when /proc/self leads to the image owner\'s files', () => {
    const root = customRootfs(who(), 'rootfs-maskdir');
    rmSync(join(root, 'data'), { recursive: true });
    symlinkSync('/proc/self', join(root, 'data'));
    const vol = ownedDir(who(), 'maskdir-vol');
    mkdirSync(join(vol, 'fd'));
    for (let n = 3; n < 128; n++) symlinkSync('/tmp', join(vol, 'fd', String(n)));
    const secret = ownedDir(who(), 'maskdir-secret');
    writeFileSync(join(secret, 'secret'), 'top secret\n');
    execFileSync('chown', ['-hR', `${who().uid}:${who().gid}`, root, vol, secret]);
    const bundle = makeBundle(who(), {
      args: sh('echo "private: $(ls -A /private)"'),
      edit: (s: Spec) => {
        s.root = { path: root, readonly: true };
        s.mounts!.push({ destination: '/data', type: 'bind', source: vol, options: ['rbind'] });
        s.mounts!.push({ destination: '/private', type: 'bind', source: secret, options: ['rbind'] });
        s.linux!.maskedPaths = [...(s.linux!.maskedPaths ?? []), '/private'];
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('private: \n');
    expect(r.status).toBe(0);
  });
});
