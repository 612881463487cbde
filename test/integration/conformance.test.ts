// What an outside runtime conformance suite found (issue 16), end to end, as root and rootless.
//
// Seccomp: nothing launch itself does after the filter loads may depend on what the profile
// allows. Each profile below allows everything but ONE syscall (SCMP_ACT_ERRNO, the shape of
// the conformance suite's {defaultAction: ALLOW, openat2 -> ERRNO}) that launch used, or
// could use, between the filter and the program; `sh -c pwd` needs none of them. Seen failing
// before the fix: with noNewPrivileges false the filter loaded before the credentials and the
// change of directory, so `openat2` made every run, create and exec fail with
// "process.cwd: change directory to `/home/user`: Operation not permitted (EPERM)", and
// `setresuid`, `setgroups`, `capset` and `prctl` failed the same way at process.user and
// process.capabilities; with either setting, denying `fcntl` made the exec trampoline lose
// launch's sync socket at its exec, so run "succeeded" with status 125 and no output. (`create`
// also reported `created` and waited for `start` under the filter: sendto, openat.)
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Seccomp, Spec } from '../../lib/spec/schema.js';
import { cleanupBase, cleanupTestCgroups, makeBundle, ownedDir } from '../helpers/bundle.js';
import { type RunAs, eachMode, runAs } from '../helpers/env.js';
import { detachedVerb, launchSync, runBundle, stateRootPerTest, until } from '../helpers/launch.js';

// A hundred bundles and more per mode: more than one state root keeps compiled.
stateRootPerTest();
afterAll(() => {
  cleanupBase();
  cleanupTestCgroups();
});

const denyOne = (name: string): Seccomp => ({
  defaultAction: 'SCMP_ACT_ALLOW',
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
  syscalls: [{ names: [name], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
});

/** Every syscall launch makes (or made) between loading the filter and the program's exec,
 * in the run, create/start and exec paths, and the exec trampoline's. */
const LAUNCH_CALLS = [
  'openat2', 'fchdir', 'chdir', 'fcntl', 'close_range', 'prctl', 'capset', 'capget', 'setresuid', 'setresgid', 'setgroups',
  'getdents64', 'execveat', 'memfd_create', 'umask', 'prlimit64', 'sendto', 'recvfrom', 'sendmsg', 'openat', 'rt_sigaction',
  'keyctl', 'dup3', 'fstat', 'newfstatat', 'statfs',
];

/** The ones on the create, start and exec paths that `run` does not take, and the run's main
 * ones (a container start costs seconds here: not all of them again). */
const CREATE_CALLS = ['openat2', 'fchdir', 'fcntl', 'close_range', 'prctl', 'capset', 'sendto', 'recvfrom', 'openat', 'rt_sigaction', 'execveat'];

/** `create`, then `start`; the container's stdout (its pwd) goes to a file, read once it is
 * there. Leaves the container running (the caller deletes it). */
async function createStart(who: RunAs, bundle: string, id: string): Promise<{ create: string; start: string; out: string }> {
  const file = join(ownedDir(who, 'log'), 'log');
  const fd = openSync(file, 'w');
  let create;
  try {
    create = launchSync(who, ['create', '--bundle', bundle, id], { stdio: ['ignore', fd, fd] });
  } finally {
    closeSync(fd);
  }
  const created = `${create.status} ${readFileSync(file, 'utf8')}`;
  if (create.status !== 0) return { create: created, start: '', out: '' };
  const start = launchSync(who, ['start', id]);
  if (start.status === 0) await until('the container printed its directory', () => readFileSync(file, 'utf8').includes('\n'));
  return { create: created, start: `${start.status} ${start.stderr}`, out: readFileSync(file, 'utf8') };
}

eachMode('seccomp: launch needs nothing the profile may take away', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const bundle = (args: string[], nnp: boolean, name: string, edit?: (s: Spec) => void) =>
    makeBundle(who(), {
      args,
      edit: (s) => {
        s.process!.cwd = '/home/user';
        s.process!.noNewPrivileges = nnp;
        s.linux!.seccomp = denyOne(name);
        edit?.(s);
      },
    });

  for (const nnp of [false, true]) {
    it.skipIf(skip)(`run: each syscall denied alone, noNewPrivileges ${nnp}`, () => {
      const got = LAUNCH_CALLS.map((name) => {
        const r = runBundle(who(), bundle(['/bin/sh', '-c', 'pwd'], nnp, name));
        return `${name}: ${r.status} ${r.stdout.trim()} ${r.stderr.trim()}`;
      });
      expect(got).toEqual(LAUNCH_CALLS.map((name) => `${name}: 0 /home/user `));
    });

    // The rootless default maps one uid and one gid: uid 1000 and its groups need root here.
    it.skipIf(skip ?? (mode !== 'root' ? 'maps uid 1000 and several groups: root only' : undefined))(`run as uid 1000 with supplementary groups: each credential syscall denied alone, noNewPrivileges ${nnp}`, () => {
      const calls = ['setresuid', 'setresgid', 'setgroups', 'capset', 'prctl', 'openat2'];
      const got = calls.map((name) => {
        const r = runBundle(who(), bundle(['/bin/sh', '-c', 'pwd; id -u; id -G'], nnp, name, (s) => {
          s.process!.user = { uid: 1000, gid: 1000, additionalGids: [1000, 65534] };
        }));
        return `${name}: ${r.status} ${r.stdout.trim().replace(/\n/g, ',')} ${r.stderr.trim()}`;
      });
      expect(got).toEqual(calls.map((name) => `${name}: 0 /home/user,1000,1000 65534 `));
    });

    it.skipIf(skip)(`create, start and exec: each syscall denied alone, noNewPrivileges ${nnp}`, async () => {
      const got: string[] = [];
      for (const name of CREATE_CALLS) {
        const id = `cf-${mode}-${nnp}-${name}-${process.pid}`;
        try {
          const cs = await createStart(who(), bundle(['/bin/sh', '-c', 'pwd; exec sleep 30'], nnp, name), id);
          const ex = cs.out ? launchSync(who(), ['exec', id, '/bin/sh', '-c', 'pwd']) : { status: null, stdout: '', stderr: '' };
          got.push(`${name}: ${cs.create} | ${cs.start} | ${cs.out.trim()} | ${ex.status} ${ex.stdout.trim()} ${ex.stderr.trim()}`);
        } finally {
          launchSync(who(), ['delete', '--force', id]);
        }
      }
      expect(got).toEqual(CREATE_CALLS.map((name) => `${name}: 0  | 0  | /home/user | 0 /home/user `));
    }, 600_000);
  }
});

// linux.rootfsPropagation applies to the container's / after pivot_root (as crun), the host's
// side staying rslave. Seen failing before: `shared` and `rshared` made pivot_root fail
// ("root.path: pivot_root into ...: Invalid argument (EINVAL)"), `unbindable` and `runbindable`
// the bind of the root ("bind mount the root filesystem: Invalid argument"), since the value was
// applied to the host-side tree first; the others ran, but only because a slave or private
// tree lets pivot_root through.
eachMode('linux.rootfsPropagation', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  /** The optional fields (shared:N, master:N, unbindable) of the mount at `point`. */
  const tags = (mountinfo: string, point: string): string[] => {
    const line = mountinfo.split('\n').find((l) => l.split(' ')[4] === point);
    if (!line) return ['<none>'];
    const fields = line.split(' ');
    return fields.slice(6, fields.indexOf('-')).map((f) => f.replace(/:\d+$/, ''));
  };
  // This host's mounts are private: a slave of them has no master to show (master:N elsewhere).
  const expected: Record<string, [string[], string[]]> = {
    shared: [['shared'], []], rshared: [['shared'], ['shared']],
    slave: [[], []], rslave: [[], []], private: [[], []], rprivate: [[], []],
    unbindable: [['unbindable'], []], runbindable: [['unbindable'], ['unbindable']],
  };

  it.skipIf(skip)('each value: the container starts and / (and, for r* values, /proc below it) shows it in mountinfo', () => {
    const got: Record<string, unknown> = {};
    for (const value of Object.keys(expected)) {
      const r = runBundle(who(), makeBundle(who(), {
        args: ['/bin/cat', '/proc/self/mountinfo'],
        edit: (s) => void (s.linux!.rootfsPropagation = value as NonNullable<NonNullable<Spec['linux']>['rootfsPropagation']>),
      }));
      got[value] = r.status === 0 ? [tags(r.stdout, '/').filter((t) => t !== 'master'), tags(r.stdout, '/proc').filter((t) => t !== 'master')] : r.stderr;
    }
    expect(got).toEqual(expected);
  });
});

// A config without a mount namespace runs chroot'ed into root.path, as runc 1.1.5 does (seen
// side by side); what would mount on the host is refused with its config path. Seen failing
// before: "linux.namespaces: a mount namespace is required to set up the root filesystem".
eachMode('no mount namespace', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const noMountNs = (s: Spec) => {
    s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'mount' && n.type !== 'network');
  };
  it.skipIf(skip)('runs chroot\'ed with nothing mounted; mounts are refused with their path, nothing left behind', () => {
    const ok = runBundle(who(), makeBundle(who(), {
      args: ['/bin/sh', '-c', 'pwd; ls /data /home'],
      edit: (s) => {
        noMountNs(s);
        s.mounts = [];
        delete s.linux!.maskedPaths;
        delete s.linux!.readonlyPaths;
        s.root!.readonly = false;
      },
    }));
    expect([ok.status, ok.stdout, ok.stderr]).toEqual([0, '/\n/data:\nhello.txt\n\n/home:\nuser\n', '']);
    // `exec` is chroot'ed into the init's root too (else it would see the host's /).
    const id = `nomnt-${mode}-${process.pid}`;
    const plain = (s: Spec) => {
      noMountNs(s);
      s.mounts = [];
      delete s.linux!.maskedPaths;
      delete s.linux!.readonlyPaths;
      s.root!.readonly = false;
    };
    expect(detachedVerb(who(), ['run', '--detach', '--bundle', makeBundle(who(), { args: ['/bin/sleep', '30'], edit: plain }), id]).status).toBe(0);
    try {
      const ex = launchSync(who(), ['exec', id, '/bin/ls', '/home']);
      expect([ex.status, ex.stdout, ex.stderr]).toEqual([0, 'user\n', '']);
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
    const bad = runBundle(who(), makeBundle(who(), { args: ['/bin/true'], edit: noMountNs }), { id });
    expect(bad.status).toBe(125);
    expect(bad.stderr).toMatch(/^launch: run \S+: mounts\[0\]: needs a mount namespace of its own/);
    expect(launchSync(who(), ['state', id]).status).not.toBe(0);
  });
});
