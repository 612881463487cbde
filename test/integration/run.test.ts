// `launch run` end to end, as root and as an unprivileged user, against a busybox rootfs.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Spec } from '../../lib/spec/schema.js';
import { cleanupBase, cleanupTestCgroups, makeBundle, ownedDir } from '../helpers/bundle.js';
import { eachMode, missing, runAs } from '../helpers/env.js';
import { BINARY, exitOf, forgetCompiled, launchChild, launchSync, runBundle, spawnOptions, waitFor } from '../helpers/launch.js';

afterAll(() => {
  cleanupBase();
  cleanupTestCgroups();
});

const sh = (script: string) => ['/bin/sh', '-c', script];

eachMode('run', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)(`runs a program and shows its own hostname, pid 1 and user ${skip ?? ''}`, () => {
    const bundle = makeBundle(who(), { args: sh('hostname; echo pid=$$; id -u; id -g'), edit: (s) => void (s.hostname = 'box') });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('box\npid=1\n0\n0\n');
    expect(r.status).toBe(0);
  });

  it.skipIf(skip)('maps the caller to root (rootless) or keeps real root', () => {
    const bundle = makeBundle(who(), { args: ['/bin/cat', '/proc/self/uid_map', '/proc/self/gid_map'] });
    const r = runBundle(who(), bundle);
    expect(r.status).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/).map(Number));
    if (mode === 'rootless') {
      expect(lines).toEqual([[0, who().uid, 1], [0, who().gid, 1]]);
    } else {
      expect(lines[0]).toEqual([0, 0, 4294967295]);
    }
  });

  it.skipIf(skip)('sets env, cwd, umask and rlimits', () => {
    const bundle = makeBundle(who(), {
      args: sh('echo "$FOO"; pwd; umask; ulimit -n'),
      edit: (s) => {
        s.process!.env = ['PATH=/bin', 'FOO=bar baz'];
        s.process!.cwd = '/data';
        s.process!.user!.umask = 0o027;
        s.process!.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 }];
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe('bar baz\n/data\n0027\n512\n');
    expect(r.status).toBe(0);
  });

  it.skipIf(skip)('makes the root read-only and mounts proc, tmpfs, devpts, mqueue and /dev/shm', () => {
    const bundle = makeBundle(who(), {
      args: sh('touch /x 2>/dev/null && echo rw || echo ro; touch /dev/shm/a && echo shm; ls /dev/pts/ptmx; ls -d /dev/mqueue; grep -c . /proc/self/status >/dev/null && echo proc'),
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe('ro\nshm\n/dev/pts/ptmx\n/dev/mqueue\nproc\n');
  });

  it.skipIf(skip)('creates the default devices and /dev links', () => {
    const bundle = makeBundle(who(), {
      args: sh('for d in null zero full random urandom tty; do [ -c /dev/$d ] && printf "$d "; done; echo; for l in fd stdin ptmx; do readlink /dev/$l; done; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok'),
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe('null zero full random urandom tty \n/proc/self/fd\n/proc/self/fd/0\npts/ptmx\n4\nnull-ok\n');
  });

  it.skipIf(skip)('creates the devices listed in linux.devices with their modes', () => {
    // Root creates the node; a user namespace can only bind the host's node of that path.
    const dev = mode === 'root'
      ? { path: '/dev/mynull', type: 'c', major: 1, minor: 3, fileMode: 0o640 }
      : { path: '/dev/fuse', type: 'c', major: 10, minor: 229 };
    const bundle = makeBundle(who(), { args: sh(`ls -l ${dev.path} /dev/zero | cut -c1-10; umask`), edit: (s) => void (s.linux!.devices = [dev]) });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    // The bound host node keeps the host's mode (0600 for /dev/fuse here, 0666 elsewhere).
    const modeLine = mode === 'root' ? 'crw-r-----' : r.stdout.split('\n')[0]!;
    expect(modeLine).toMatch(/^crw/);
    expect(r.stdout).toBe(`${modeLine}\ncrw-rw-rw-\n0022\n`);
  });

  it.skipIf(skip)('applies linux.rootfsPropagation to the container\'s mounts', () => {
    const bundle = makeBundle(who(), {
      args: sh('grep -c "shared:" /proc/self/mountinfo'),
      edit: (s) => void (s.linux!.rootfsPropagation = 'private'),
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe('0\n');
  });

  it.skipIf(skip)('binds the host /sys when sysfs cannot be mounted (user namespace, no network namespace)', () => {
    const bundle = makeBundle(who(), {
      args: sh('ls /sys/class/net | grep -c . >/dev/null && echo has-net; (touch /sys/x) 2>/dev/null || echo ro'),
      edit: (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'network');
        if (!s.linux!.namespaces.some((n) => n.type === 'user')) {
          s.linux!.namespaces.push({ type: 'user' });
          s.linux!.uidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
          s.linux!.gidMappings = [{ containerID: 0, hostID: 0, size: 65536 }];
        }
        const sys = s.mounts!.find((m) => m.destination === '/sys')!;
        Object.assign(sys, { type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('has-net\nro\n');
  });

  it.skipIf(skip)('bind-mounts host directories and files, read-only when asked', () => {
    const dir = ownedDir(who(), 'share');
    writeFileSync(join(dir, 'in.txt'), 'shared\n');
    const file = join(dir, 'single.txt');
    writeFileSync(file, 'one file\n');
    const bundle = makeBundle(who(), {
      args: sh('cat /mnt/rw/in.txt; echo out > /mnt/rw/out.txt; cat /etc/single.txt; (echo no > /mnt/ro/x) 2>/dev/null || echo ro-denied'),
      edit: (s) => {
        s.mounts!.push(
          { destination: '/mnt/rw', type: 'bind', source: dir, options: ['rbind', 'rw'] },
          { destination: '/mnt/ro', type: 'bind', source: dir, options: ['bind', 'ro'] },
          { destination: '/etc/single.txt', type: 'bind', source: file, options: ['bind', 'ro'] },
        );
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('shared\none file\nro-denied\n');
    expect(readFileSync(join(dir, 'out.txt'), 'utf8')).toBe('out\n');
  });

  it.skipIf(skip)('keeps the host cgroup hierarchies read-only under /sys/fs/cgroup, submounts included', () => {
    const bundle = makeBundle(who(), {
      args: sh('for d in /sys/fs/cgroup /sys/fs/cgroup/*/; do mkdir "$d/launch-probe-$$" 2>/dev/null && echo "WROTE $d"; done; echo checked'),
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe('checked\n');
  });

  it.skipIf(skip)('shows its own cgroup as the root of each cgroup hierarchy', () => {
    const v1 = !existsSync('/sys/fs/cgroup/cgroup.controllers');
    const bundle = makeBundle(who(), {
      // Root gets a cgroup with a pids limit; rootless has none and sees launch's own cgroup.
      args: sh(
        (mode === 'root' ? `cat /sys/fs/cgroup/${v1 ? 'pids/' : ''}pids.max;` : `[ -f /sys/fs/cgroup/${v1 ? 'pids/' : ''}cgroup.procs ] && echo procs;`) +
          (v1 ? 'ls /sys/fs/cgroup/memory | grep -c process_api; ls /sys/fs/cgroup | grep -c pids' : 'echo 0; echo 1'),
      ),
      edit: (s) => {
        s.linux!.namespaces!.push({ type: 'cgroup' });
        if (mode === 'root') {
          s.linux!.resources = { ...s.linux!.resources, pids: { limit: 77 } };
          s.linux!.cgroupsPath = `/launch-test/own-${process.pid}`;
        }
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe(`${mode === 'root' ? '77' : 'procs'}\n0\n1\n`);
  });

  it.skipIf(skip)('applies recursive mount options (rro) to every mount of an rbind', () => {
    const bundle = makeBundle(who(), {
      args: sh('(touch /mnt/x) 2>/dev/null || echo top-ro; for d in /mnt/*/; do (touch "$d/x") 2>/dev/null && echo "WROTE $d"; done; echo checked'),
      edit: (s) => void s.mounts!.push({ destination: '/mnt', type: 'bind', source: '/dev', options: ['rbind', 'rro'] }),
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('top-ro\nchecked\n');
  });

  it.skipIf(skip)('masks paths and makes paths read-only', () => {
    const bundle = makeBundle(who(), {
      // Masked files read as empty (/dev/null over them); masked directories as empty.
      args: sh('for f in /proc/keys /proc/timer_list; do [ -e $f ] && wc -c < $f; done; ls /sys/firmware | wc -l; (echo 1 > /proc/sysrq-trigger) 2>/dev/null || echo sysrq-ro'),
    });
    const r = runBundle(who(), bundle);
    const present = ['/proc/keys', '/proc/timer_list'].filter((f) => existsSync(f)).length;
    expect(r.stdout).toBe(`${'0\n'.repeat(present)}0\nsysrq-ro\n`);
  });

  it.skipIf(skip)('switches to the configured user with supplementary groups', () => {
    const bundle = makeBundle(who(), {
      args: sh('id -u; id -g; id -G'),
      edit: (s) => {
        s.process!.user = { uid: 1000, gid: 1000, additionalGids: [1000, 65534] };
        if (mode === 'rootless') s.process!.user = { uid: 0, gid: 0 };
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe(mode === 'root' ? '1000\n1000\n1000 65534\n' : '0\n0\n0\n');
  });

  it.skipIf(skip)('applies capabilities exactly and no_new_privs', () => {
    const bundle = makeBundle(who(), {
      args: sh('grep -E "^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs)" /proc/self/status'),
      edit: (s) => {
        const caps = ['CAP_KILL', 'CAP_CHOWN'];
        s.process!.capabilities = { bounding: caps, effective: caps, permitted: caps, inheritable: ['CAP_KILL'], ambient: ['CAP_KILL'] };
        s.process!.noNewPrivileges = true;
      },
    });
    const r = runBundle(who(), bundle);
    const kill = (1 << 5).toString(16).padStart(16, '0');
    const both = ((1 << 5) | 1).toString(16).padStart(16, '0');
    expect(r.stdout).toBe(`CapInh:\t${kill}\nCapPrm:\t${both}\nCapEff:\t${both}\nCapBnd:\t${both}\nCapAmb:\t${kill}\nNoNewPrivs:\t1\n`);
  });

  it.skipIf(skip)('sets the domainname and a namespaced sysctl', () => {
    const bundle = makeBundle(who(), {
      args: sh('cat /proc/sys/kernel/domainname /proc/sys/kernel/msgmax'),
      edit: (s) => {
        s.domainname = 'example.org';
        s.linux!.sysctl = { 'kernel.msgmax': '4242' };
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('example.org\n4242\n');
  });

  it.skipIf(skip)('gives a config without a user namespace one when run rootless', () => {
    const bundle = makeBundle(who(), {
      args: sh('id -u; cat /proc/self/uid_map | wc -l'),
      edit: (s) => {
        s.linux!.namespaces = s.linux!.namespaces!.filter((n) => n.type !== 'user');
        delete s.linux!.uidMappings;
        delete s.linux!.gidMappings;
        // A container without a user namespace as root: mknod'ed devices, real sysfs needs netns.
        if (mode === 'rootless') s.linux!.namespaces!.push({ type: 'network' });
      },
    });
    // The note is said by Node as it plans: a compiled bundle's hit replays the plan without
    // it (under LAUNCH_TEST_BASE, a second pass of the suite finds the first pass's entry).
    forgetCompiled(who(), bundle);
    const r = launchSync(who(), ['--debug', 'run', '--bundle', bundle, `nouserns-${process.pid}`]);
    if (mode === 'rootless') {
      expect(r.stderr).toContain(`launch: debug: rootless: added a user namespace mapping uid ${who().uid} and gid ${who().gid} to 0`);
    } else {
      expect(r.stderr).not.toContain('added a user namespace');
    }
    expect(r.stdout).toBe('0\n1\n');
    expect(r.status).toBe(0);
  });

  it.skipIf(skip)('sees its own cgroup as the root of a cgroup namespace', () => {
    const bundle = makeBundle(who(), {
      args: sh('cut -d: -f3 /proc/self/cgroup | sort -u'),
      edit: (s) => void s.linux!.namespaces!.push({ type: 'cgroup' }),
    });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe('/\n');
  });

  it.skipIf(skip)('creates a time namespace when asked', () => {
    const host = readlinkSync('/proc/self/ns/time');
    const bundle = makeBundle(who(), { args: ['/bin/readlink', '/proc/self/ns/time'], edit: (s) => void s.linux!.namespaces!.push({ type: 'time' }) });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toMatch(/^time:\[\d+\]\n$/);
    expect(r.stdout.trim()).not.toBe(host);
  });

  it.skipIf(skip)('sets oom_score_adj', () => {
    const bundle = makeBundle(who(), { args: ['/bin/cat', '/proc/self/oom_score_adj'], edit: (s) => void (s.process!.oomScoreAdj = 500) });
    const r = runBundle(who(), bundle);
    expect(r.stdout).toBe('500\n');
  });

  it.skipIf(skip ?? (BINARY ? 'the single executable carries its own Node' : undefined))('runs under the system Node (20) too', () => {
    const node = ['/usr/bin/node', '/usr/local/bin/node'].find((p) => existsSync(p));
    if (!node) return; // the test suite's own Node is the only one: nothing else to try
    const r = runBundle(who(), makeBundle(who(), { args: ['/bin/echo', 'ok'] }), { node });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('ok\n');
  });

  it.skipIf(skip)('has its own network, ipc and mount namespaces', () => {
    const bundle = makeBundle(who(), {
      args: sh('ls /sys/class/net | tr "\\n" " "; echo; ipcs -q >/dev/null 2>&1; echo done'),
      edit: (s) => {
        if (!s.linux!.namespaces!.some((n) => n.type === 'network')) s.linux!.namespaces!.push({ type: 'network' });
        // No user-mode network (`run` would add one): the namespace as the config makes it.
        s.annotations = { 'run.launch.network': 'none' };
        // With a network namespace of its own, even a rootless container may mount sysfs.
        const sys = s.mounts!.find((m) => m.destination === '/sys')!;
        Object.assign(sys, { type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] });
      },
    });
    const r = runBundle(who(), bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('lo \ndone\n');
  });

});

// Joining namespaces by path. Root joins a uts namespace of the host's user namespace; an
// ordinary user joins the user namespace that owns the others first (as with pasta or podman),
// which makes the new pid namespace need an extra fork (FORK_INIT).
eachMode('join by path', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('joins existing namespaces given by path', async () => {
    const holderArgs = mode === 'root' ? ['--uts'] : ['--user', '--map-root-user', '--uts', '--net'];
    const holder = spawn('unshare', [...holderArgs, 'sh', '-c', 'hostname joined-uts; echo ready; exec sleep 60'], {
      ...spawnOptions(who()),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      await waitFor(holder.stdout!, 'ready');
      const nsPath = (t: string) => `/proc/${holder.pid}/ns/${t}`;
      const bundle = makeBundle(who(), {
        args: sh('hostname; echo pid=$$; ls /sys/class/net 2>/dev/null | tr "\\n" " "; echo; id -u'),
        edit: (s) => {
          s.hostname = undefined;
          const joined = mode === 'root' ? ['uts'] : ['user', 'uts', 'network'];
          s.linux!.namespaces = [
            ...s.linux!.namespaces!.filter((n) => !joined.includes(n.type)),
            ...joined.map((t) => ({ type: t as 'uts', path: nsPath(t === 'network' ? 'net' : t) })),
          ];
          if (mode === 'rootless') {
            delete s.linux!.uidMappings;
            delete s.linux!.gidMappings;
          }
        },
      });
      const r = runBundle(who(), bundle);
      expect(r.stderr).toBe('');
      const [host, pid, , uid] = r.stdout.split('\n');
      expect([host, pid, uid]).toEqual(['joined-uts', 'pid=1', '0']);
      expect(r.status).toBe(0);
    } finally {
      holder.kill('SIGKILL');
    }
  });

});

// Only an ordinary user joins a user namespace here, so only it takes the extra fork.
const forkSkip = missing('rootless', 'busybox', 'dist', 'addon');
describe(forkSkip ? `extra fork (skipped: ${forkSkip})` : 'extra fork', () => {
  const who = () => runAs('rootless')!;

  it.skipIf(forkSkip)('passes the exit status and signals through the extra fork', async () => {
    const holder = spawn('unshare', ['--user', '--map-root-user', 'sh', '-c', 'echo ready; exec sleep 60'], { ...spawnOptions(who()), stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      await waitFor(holder.stdout!, 'ready');
      const edit = (s: Spec) => {
        s.linux!.namespaces = [...s.linux!.namespaces!.filter((n) => n.type !== 'user'), { type: 'user', path: `/proc/${holder.pid}/ns/user` }];
        delete s.linux!.uidMappings;
        delete s.linux!.gidMappings;
      };
      expect(runBundle(who(), makeBundle(who(), { args: sh('exit 42'), edit })).status).toBe(42);
      const child = launchChild(who(), ['run', '--bundle', makeBundle(who(), { args: sh("trap 'echo got-TERM; exit 9' TERM; echo ready; while :; do sleep 0.05; done"), edit }), `fork-${process.pid}`]);
      await waitFor(child.stdout!, 'ready');
      const seen = waitFor(child.stdout!, 'got-TERM');
      child.kill('SIGTERM');
      await seen;
      expect((await exitOf(child)).code).toBe(9);
    } finally {
      holder.kill('SIGKILL');
    }
  });
});

// More than one id in the user namespace: newuidmap/newgidmap and the /etc/subuid range.
const subSkip = missing('rootless', 'newuidmap', 'busybox', 'dist', 'addon');
describe(subSkip ? `subordinate ids (skipped: ${subSkip})` : 'subordinate ids', () => {
  it.skipIf(subSkip)('maps a subuid range with newuidmap and switches to a non-root user in it', () => {
    const who = runAs('rootless')!;
    const range = (file: string) => {
      const line = readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${who.name}:`) || l.startsWith(`${who.uid}:`));
      return line ? Number(line.split(':')[1]) : undefined;
    };
    const sub = range('/etc/subuid');
    const subg = range('/etc/subgid');
    if (sub === undefined || subg === undefined) throw new Error(`no /etc/subuid and /etc/subgid range for ${who.name}: .ci/run adds one`);
    const bundle = makeBundle(who, {
      args: ['/bin/sh', '-c', 'id -u; id -g; id -G; cat /proc/self/uid_map | wc -l'],
      edit: (s) => {
        s.linux!.uidMappings = [{ containerID: 0, hostID: who.uid, size: 1 }, { containerID: 1, hostID: sub, size: 2000 }];
        s.linux!.gidMappings = [{ containerID: 0, hostID: who.gid, size: 1 }, { containerID: 1, hostID: subg, size: 2000 }];
        s.process!.user = { uid: 1000, gid: 1000, additionalGids: [1000, 1500] };
      },
    });
    const r = runBundle(who, bundle);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('1000\n1000\n1000 1500\n2\n');
  });

  it.skipIf(subSkip)('names the mapping that is not delegated', () => {
    const who = runAs('rootless')!;
    const bundle = makeBundle(who, {
      args: ['/bin/true'],
      edit: (s) => void (s.linux!.uidMappings = [{ containerID: 0, hostID: 12345678, size: 10 }]),
    });
    const r = runBundle(who, bundle);
    expect(r.stderr.trimEnd()).toMatch(/^launch: run \S+: linux\.uidMappings\[0\]: host uids 12345678-12345687 are not delegated to \S+ in `\/etc\/subuid`$/);
    expect(r.status).toBe(125);
  });
});
