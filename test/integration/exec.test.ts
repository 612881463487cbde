// `launch exec`, as runc exec: a new process in a running container's namespaces and cgroup,
// with the config's process settings and the flags on top; foreground or detached.
import { closeSync, existsSync, openSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execArgv, parseExecFlags } from '../../lib/cli/exec.js';
import { dedupEnv, execProcess } from '../../lib/runtime/exec.js';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { type RunAs, eachMode, runAs } from '../helpers/env.js';
import { SLOW, detachedVerb, exitOf, launchChild, launchSync, stateRoot, until, waitFor } from '../helpers/launch.js';

afterAll(cleanupBase);

describe('exec flags (no container)', () => {
  it('puts a `--` after the id, so that the command keeps its own flags', () => {
    expect(execArgv(['exec', 'c1', 'sh', '-c', 'x'])).toEqual(['exec', 'c1', '--', 'sh', '-c', 'x']);
    expect(execArgv(['--root', '/r', 'exec', '-e', 'A=1', '-tu', '0', 'c1', 'ls'])).toEqual(['--root', '/r', 'exec', '-e', 'A=1', '-tu', '0', 'c1', '--', 'ls']);
    expect(execArgv(['exec', 'c1', '--', 'ls'])).toEqual(['exec', 'c1', '--', 'ls']);
    expect(execArgv(['run', 'c1', 'x'])).toEqual(['run', 'c1', 'x']);
    // runc's ps too: the words after the id are ps's (`runc ps ID -o pid,comm`).
    expect(execArgv(['ps', 'c1', '-o', 'pid,comm'])).toEqual(['ps', 'c1', '--', '-o', 'pid,comm']);
    expect(execArgv(['--root', '/r', 'ps', '-f', 'table', 'c1', '-e'])).toEqual(['--root', '/r', 'ps', '-f', 'table', 'c1', '--', '-e']);
    expect(execArgv(['ps', '--format=json', 'c1'])).toEqual(['ps', '--format=json', 'c1']);
    expect(execArgv(['ps', 'c1', '--', '-o', 'pid'])).toEqual(['ps', 'c1', '--', '-o', 'pid']);
  });

  it('applies the flags to the config process as runc: env added (last wins), no terminal unless -t', () => {
    expect(dedupEnv(['A=1', 'B=2', 'A=3'])).toEqual(['B=2', 'A=3']);
    const config = { args: ['sleep'], cwd: '/', terminal: true, env: ['PATH=/bin', 'A=1'], user: { uid: 5, gid: 6 }, capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] } };
    const flags = parseExecFlags({ root: '', debug: false, id: 'c', command: ['ls'], env: ['A=2'], user: '7', cap: ['net_raw'], cwd: '/tmp' });
    const p = execProcess(config, flags);
    expect(p).toMatchObject({ args: ['ls'], cwd: '/tmp', terminal: false, env: ['PATH=/bin', 'A=2'], user: { uid: 7, gid: 6 } });
    expect(p.capabilities!.bounding).toEqual(['CAP_KILL', 'CAP_NET_RAW']);
    expect(p.capabilities!.ambient).toBeUndefined(); // no inheritable set in the config
    expect(config.env).toEqual(['PATH=/bin', 'A=1']); // the config is not changed
    expect(() => parseExecFlags({ root: '', debug: false, id: 'c', user: '1:2:3' })).toThrow(/--user must be UID\[:GID\], got `1:2:3`/);
    expect(() => parseExecFlags({ root: '', debug: false, id: 'c', user: 'bob' })).toThrow(/--user uid must be a number/);
    expect(() => parseExecFlags({ root: '', debug: false, id: 'c', env: 'NOEQUALS' })).toThrow(/--env must be KEY=VALUE/);
  });
});

const oneLine = (s: string) => s.trim().split('\n').length === 1;

eachMode('exec', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const id = `exec-${mode}-${process.pid}`;
  let marks = '';
  let initPid = 0;

  beforeAll(() => {
    if (skip) return;
    marks = ownedDir(who(), 'marks');
    const bundle = makeBundle(who(), {
      args: ['/bin/sleep', '1000'],
      edit: (s) => {
        s.hostname = 'exec-box';
        s.mounts!.push({ destination: '/marks', type: 'bind', source: marks, options: ['bind', 'rw'] });
      },
    });
    expect(detachedVerb(who(), ['run', '-d', '--bundle', bundle, id])).toEqual({ status: 0, log: '' });
    initPid = JSON.parse(launchSync(who(), ['state', id]).stdout).pid;
  });

  afterAll(() => {
    if (!skip) launchSync(who(), ['delete', '--force', id]);
  });

  const exec = (args: string[], opts: Parameters<typeof launchSync>[2] = {}) => launchSync(who(), ['exec', ...args], opts);
  const hasCgroup = () => Boolean(JSON.parse(readFileSync(join(stateRoot(who()), id, 'state.json'), 'utf8')).cgroup);

  it.skipIf(skip)("sees the container: hostname, pid namespace, mounts, cgroup", () => {
    const r = exec([id, 'sh', '-c', 'hostname; echo $$; cat /data/hello.txt; ps; cat /proc/self/cgroup; echo =; cat /proc/1/cgroup']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const [host, pid, hello, ...rest] = r.stdout.split('\n');
    expect(host).toBe('exec-box');
    expect(Number(pid)).toBeLessThan(100); // the container's pid namespace, not the host's
    expect(hello).toBe('hello from the rootfs');
    expect(rest.join('\n')).toMatch(/^\s*1 .*sleep 1000$/m); // its init is pid 1
    const cgroups = r.stdout.slice(r.stdout.indexOf('hello from the rootfs')).split('\n').filter((l) => /^\d+:/.test(l) || l === '=');
    const at = cgroups.indexOf('=');
    if (hasCgroup()) expect(cgroups.slice(0, at)).toEqual(cgroups.slice(at + 1));
  });

  // A created container's init is a copy of launch until `start` and not dumpable
  // (CVE-2019-5736): root joins it, an ordinary user is told to start it first.
  it.skipIf(skip)('a created container takes an exec as root; rootless, after start', () => {
    const bundle = makeBundle(who(), { args: ['/bin/sleep', '30'] });
    const id = `created-${mode}-${process.pid}`;
    expect(detachedVerb(who(), ['create', '--bundle', bundle, id]).status).toBe(0);
    try {
      const r = launchSync(who(), ['exec', id, '/bin/true']);
      if (mode === 'root') expect([r.status, r.stderr]).toEqual([0, '']);
      else {
        expect(r.status).toBe(125);
        expect(r.stderr).toContain(`container \`${id}\` is created but not started: rootless, it takes an exec once \`launch start\` has run its program`);
        expect(detachedVerb(who(), ['start', id]).status).toBe(0);
        expect(launchSync(who(), ['exec', id, '/bin/true']).status).toBe(0);
      }
    } finally {
      launchSync(who(), ['delete', '--force', id]);
    }
  });

  it.skipIf(skip)('passes stdin, stdout and the exit code through (128+N on signal N)', () => {
    const r = exec([id, 'sh', '-c', 'cat; echo err >&2; exit 7'], { input: 'from stdin\n' });
    expect([r.stdout, r.stderr, r.status]).toEqual(['from stdin\n', 'err\n', 7]);
    expect(exec([id, 'sh', '-c', 'kill -KILL $$']).status).toBe(128 + 9);
    const missing = exec([id, 'nosuch-program']);
    expect(missing.status).toBe(127);
    expect(missing.stderr).toMatch(new RegExp(`^launch: exec ${id}: process.args\\[0\\]: executable file not found in \\$PATH: \`nosuch-program\``));
  });

  it.skipIf(skip)('takes --env, --cwd and --process FILE', () => {
    const r = exec(['-e', 'FOO=bar', '--env', 'PATH=/bin', '--cwd', '/data', id, 'sh', '-c', 'echo $FOO $PATH; pwd']);
    expect([r.stdout, r.status]).toEqual(['bar /bin\n/data\n', 0]);
    const file = join(ownedDir(who(), 'proc'), 'process.json');
    writeFileSync(file, JSON.stringify({ args: ['sh', '-c', 'echo $X; pwd; id -u'], cwd: '/tmp', env: ['PATH=/bin', 'X=from-file'], user: { uid: 0, gid: 0 } }));
    const p = exec(['--process', file, id]);
    expect([p.stdout, p.stderr, p.status]).toEqual(['from-file\n/tmp\n0\n', '', 0]);
    const both = exec(['--process', file, id, 'ls']);
    expect(both.status).toBe(125);
    expect(both.stderr).toMatch(/--process gives the whole process: COMMAND cannot be added to it/);
  });

  it.skipIf(skip)('runs as --user UID:GID (mapped ids only)', () => {
    const r = exec(['--user', '1000:1000', id, 'sh', '-c', 'id -u; id -g']);
    if (mode === 'root') {
      expect([r.stdout, r.status]).toEqual(['1000\n1000\n', 0]);
    } else {
      // `runc spec --rootless` maps the user's own id only.
      expect(r.status).toBe(125);
      expect(r.stderr).toMatch(/uid 1000 is not mapped in the container's user namespace/);
      expect(oneLine(r.stderr)).toBe(true);
    }
  });

  it.skipIf(skip)('adds --cap to the process, sets --no-new-privs, and -g supplementary groups', () => {
    // CapBnd/CapEff in /proc/self/status; bit 21 is CAP_SYS_ADMIN (not in runc spec's set).
    const caps = (args: string[]) => {
      const r = exec([...args, id, 'sh', '-c', 'grep -E "^(CapEff|NoNewPrivs|Groups):" /proc/self/status']);
      expect([r.stderr, r.status]).toEqual(['', 0]);
      return Object.fromEntries(r.stdout.trim().split('\n').map((l) => l.split(/:\s*/) as [string, string]));
    };
    const plain = caps([]);
    const more = caps(['--cap', 'CAP_SYS_ADMIN', '--no-new-privs']);
    const bit = (hex: string) => (BigInt(`0x${hex}`) >> 21n) & 1n;
    expect([bit(plain.CapEff!), bit(more.CapEff!)]).toEqual([0n, 1n]);
    expect(more.NoNewPrivs).toBe('1');
    if (mode === 'root') expect(caps(['-g', '10', '-g', '20']).Groups!.split(/\s+/)).toEqual(expect.arrayContaining(['10', '20']));
  });

  it.skipIf(skip)('-d returns at once, the process runs on; --pid-file gets its host pid', async () => {
    const pidFile = join(ownedDir(who(), 'pid'), 'pid');
    // The process waits for a file the test makes only after exec -d has returned: -d must not
    // wait for it (no clock involved).
    const r = detachedVerb(who(), ['exec', '-d', '--pid-file', pidFile, id, 'sh', '-c', 'while [ ! -e /marks/go ]; do sleep 0.05; done; echo $$ > /marks/exec']);
    expect(r).toEqual({ status: 0, log: '' });
    expect(existsSync(join(marks, 'exec'))).toBe(false);
    writeFileSync(join(marks, 'go'), '');
    const pid = Number(readFileSync(pidFile, 'utf8'));
    // In the container's pid namespace, as a host process.
    expect(readlinkSync(`/proc/${pid}/ns/pid`)).toBe(readlinkSync(`/proc/${initPid}/ns/pid`));
    await until('the detached process wrote its mark', () => existsSync(join(marks, 'exec')) && readFileSync(join(marks, 'exec'), 'utf8') !== '');
    expect(Number(readFileSync(join(marks, 'exec'), 'utf8'))).toBeLessThan(100);
  });

  it.skipIf(skip)('passes signals on, relays a terminal with -t, keeps --preserve-fds fds', async () => {
    const child = launchChild(who(), ['exec', id, 'sh', '-c', 'trap "echo got TERM; exit 7" TERM; echo ready; while :; do sleep 0.1; done']);
    await waitFor(child.stdout!, 'ready');
    const out = waitFor(child.stdout!, 'got TERM');
    child.kill('SIGTERM');
    await out;
    expect((await exitOf(child)).code).toBe(7);

    const t = exec(['-t', id, 'sh'], { input: 'echo $((6*7)); exit 4\n' });
    expect(t.stdout).toContain('42');
    expect(t.status).toBe(4);

    const file = join(ownedDir(who(), 'fds'), 'three');
    writeFileSync(file, 'through fd 3\n');
    const fd = openSync(file, 'r');
    try {
      const f = exec(['--preserve-fds', '1', id, 'sh', '-c', 'cat <&3'], { stdio: ['ignore', 'pipe', 'pipe', fd] });
      expect([f.stdout, f.stderr, f.status]).toEqual(['through fd 3\n', '', 0]);
      // Without the flag, nothing of launch's reaches the process.
      expect(exec([id, 'sh', '-c', 'ls /proc/self/fd | wc -l'], { stdio: ['ignore', 'pipe', 'pipe', fd] }).stdout.trim()).toBe('4');
    } finally {
      closeSync(fd);
    }
  });

  it.skipIf(skip)('refuses a paused container (as runc)', (ctx) => {
    if (!hasCgroup()) ctx.skip('the container has no cgroup of its own to freeze (rootless without delegation)');
    expect(launchSync(who(), ['pause', id]).status).toBe(0);
    try {
      const r = exec([id, 'true']);
      expect(r.status).toBe(125);
      expect(r.stderr).toBe(`launch: exec ${id}: container \`${id}\` is paused (resume it, or use --ignore-paused)\n`);
    } finally {
      expect(launchSync(who(), ['resume', id]).status).toBe(0);
    }
  });

  it.skipIf(skip)('a stopped or missing container: one clear line, and a failure status', async () => {
    const r = exec([`nosuch-${id}`, 'true']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(new RegExp(`^launch: exec nosuch-${id}: container \`nosuch-${id}\` does not exist`));
    expect(oneLine(r.stderr)).toBe(true);

    const stopped = `stopped-${id}`;
    const bundle = makeBundle(who(), { args: ['/bin/true'] });
    expect(detachedVerb(who(), ['run', '-d', '--bundle', bundle, stopped]).status).toBe(0);
    await until('it stopped', () => JSON.parse(launchSync(who(), ['state', stopped]).stdout).status === 'stopped');
    const s = exec([stopped, 'true']);
    expect(s.status).toBe(125);
    expect(s.stderr).toBe(`launch: exec ${stopped}: container \`${stopped}\` is not running\n`);
    expect(launchSync(who(), ['delete', stopped]).status).toBe(0);
  });
});
