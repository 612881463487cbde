// OCI hooks: each runs at its point of the lifecycle, in the namespaces runtime-spec names
// (prestart, createRuntime, poststart, poststop: the runtime's; createContainer, startContainer:
// the container's), with the state on stdin. One that fails before the start aborts it with one
// line and leaves nothing; poststart and poststop failures are warnings.
import { existsSync, readFileSync, readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import type { Hook, Spec } from '../../lib/spec/schema.js';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { SLOW, detachedVerb, launchSync, stateRoot, until } from '../helpers/launch.js';

afterAll(cleanupBase);

const NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
type Name = (typeof NAMES)[number];

// Saves its stdin as <dir>/<name>.json and logs `<name> <mount ns> <HOOK_VAR> <args>`, then
// behaves as $3 says (ok, fail: exit 3, hang).
const SCRIPT = `#!/bin/sh
name=$1 dir=$2 how=$3
cat > "$dir/$name.json"
echo "$name $(readlink /proc/self/ns/mnt) \${HOOK_VAR:-unset} $*" >> "$dir/log"
case "$how" in fail) exit 3 ;; hang) exec sleep 100 ;; esac
`;

const alive = (pid: number) => existsSync(`/proc/${pid}`) && !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));

eachMode('hooks', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const hostMnt = () => readlinkSync('/proc/self/ns/mnt');

  /** A directory with the hook script, bound at the same path into the container: the
   * startContainer hook's path resolves in the container's root, the others' on the host. */
  function setup(how: Partial<Record<Name, string>> = {}, extra: Partial<Record<Name, Partial<Hook>>> = {}) {
    const dir = ownedDir(who(), 'hooks');
    const script = join(dir, 'hook');
    writeFileSync(script, SCRIPT, { mode: 0o755 });
    const hook = (name: Name): Hook => ({
      path: script,
      args: ['hook-argv0', name, dir, how[name] ?? 'ok'],
      env: ['PATH=/usr/bin:/bin', `HOOK_VAR=${name}-var`],
      ...extra[name],
    });
    const edit = (s: Spec) => {
      s.mounts!.push({ destination: dir, type: 'bind', source: dir, options: ['bind', 'rw'] });
      s.hooks = Object.fromEntries(NAMES.map((n) => [n, [hook(n)]]));
      s.annotations = { 'org.launch.test': 'hooks' };
    };
    const bundle = makeBundle(who(), { args: ['/bin/sh', '-c', `readlink /proc/self/ns/mnt > ${dir}/process`], edit });
    const log = () => (existsSync(join(dir, 'log')) ? readFileSync(join(dir, 'log'), 'utf8').trim().split('\n') : []);
    const lines = () => log().map((l) => l.split(' '));
    const state = (name: Name) => JSON.parse(readFileSync(join(dir, `${name}.json`), 'utf8')) as Record<string, unknown>;
    return { dir, bundle, log, lines, state };
  }

  it.skipIf(skip)('features lists every hook', () => {
    expect(JSON.parse(launchSync(who(), ['features']).stdout).hooks).toEqual([...NAMES]);
  });

  it.skipIf(skip)('run: every hook in order, in its namespace, with the state on stdin', () => {
    const h = setup();
    const id = `hooks-run-${mode}-${process.pid}`;
    const r = launchSync(who(), ['run', '--bundle', h.bundle, id]);
    expect(r).toMatchObject({ status: 0, stderr: '' });
    expect(h.lines().map((l) => l[0])).toEqual([...NAMES]);
    const containerMnt = readFileSync(join(h.dir, 'process'), 'utf8').trim();
    expect(containerMnt).not.toBe(hostMnt());
    for (const [name, ns, env, ...args] of h.lines()) {
      const inContainer = name === 'createContainer' || name === 'startContainer';
      expect(ns, name).toBe(inContainer ? containerMnt : hostMnt());
      expect(env).toBe(`${name}-var`);
      expect(args).toEqual([name!, h.dir, 'ok']);
    }
    const status = { prestart: 'creating', createRuntime: 'creating', createContainer: 'creating', startContainer: 'created', poststart: 'running', poststop: 'stopped' };
    const pid = h.state('prestart').pid;
    expect(pid).toEqual(expect.any(Number));
    for (const name of NAMES) {
      expect(h.state(name), name).toEqual({
        ociVersion: expect.any(String),
        id,
        status: status[name],
        ...(name === 'poststop' ? {} : { pid }),
        bundle: h.bundle,
        annotations: { 'org.launch.test': 'hooks' },
      });
    }
    expect(readdirSync(stateRoot(who()))).not.toContain(id);
  });

  it.skipIf(skip)('create, start, delete: each verb runs its own hooks', async () => {
    const h = setup();
    const id = `hooks-life-${mode}-${process.pid}`;
    expect(detachedVerb(who(), ['create', '--bundle', h.bundle, id])).toEqual({ status: 0, log: '' });
    expect(h.lines().map((l) => l[0])).toEqual(['prestart', 'createRuntime', 'createContainer']);
    expect(launchSync(who(), ['start', id])).toMatchObject({ status: 0, stderr: '' });
    // start returns once the program runs: the startContainer hook came before.
    expect(h.lines().map((l) => l[0])).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart']);
    expect(h.state('startContainer').status).toBe('created');
    await until('the process ran and exited', () => existsSync(join(h.dir, 'process')) && JSON.parse(launchSync(who(), ['state', id]).stdout).status === 'stopped');
    expect(launchSync(who(), ['delete', id])).toMatchObject({ status: 0, stderr: '' });
    expect(h.lines().map((l) => l[0]).at(-1)).toBe('poststop');
    expect(h.state('poststop')).toMatchObject({ id, status: 'stopped' });
    expect(readdirSync(stateRoot(who()))).not.toContain(id);
  });

  const failures: [string, Name, Partial<Record<Name, string>>, Partial<Record<Name, Partial<Hook>>>, (path: string) => string][] = [
    ['a failing createRuntime hook', 'createRuntime', { createRuntime: 'fail' }, {}, (p) => `hook \`${p}\` exited with status 3`],
    ['a createRuntime hook past its timeout', 'createRuntime', { createRuntime: 'hang' }, { createRuntime: { timeout: 1 } }, (p) => `hook \`${p}\` timed out after 1s`],
    ['a missing prestart hook', 'prestart', {}, { prestart: { path: '/nonexistent/hook' } }, () => 'cannot run hook `/nonexistent/hook`: No such file or directory (ENOENT)'],
    ['a failing createContainer hook', 'createContainer', { createContainer: 'fail' }, {}, (p) => `hook \`${p}\` exited with status 3`],
    ['a startContainer hook past its timeout', 'startContainer', { startContainer: 'hang' }, { startContainer: { timeout: 1 } }, (p) => `hook \`${p}\` timed out after 1s`],
  ];
  for (const [title, name, how, extra, message] of failures) {
    it.skipIf(skip)(`run: ${title} aborts the start with one line, exit 125, nothing left`, () => {
      const h = setup(how, extra);
      const id = `hooks-fail-${mode}-${process.pid}`;
      const pidFile = join(ownedDir(who(), 'pid'), 'pid');
      const t0 = Date.now();
      const r = launchSync(who(), ['run', '--pid-file', pidFile, '--bundle', h.bundle, id]);
      expect(Date.now() - t0).toBeLessThan(10_000 * SLOW);
      expect(r.status).toBe(125);
      expect(r.stderr).toBe(`launch: run ${id}: hooks.${name}[0]: ${message(join(h.dir, 'hook'))}\n`);
      // It ran, with its args and env, and nothing after it but poststop (as runc's destroy).
      const names = h.lines().map((l) => l[0]);
      expect(names.at(-1)).toBe('poststop');
      if (existsSync(join(h.dir, `${name}.json`))) expect(h.lines().find((l) => l[0] === name)!.slice(2)).toEqual([`${name}-var`, name, h.dir, how[name]]);
      expect(names).not.toContain('poststart');
      expect(existsSync(join(h.dir, 'process'))).toBe(false);
      expect(readdirSync(stateRoot(who()))).not.toContain(id);
      expect(alive(Number(readFileSync(pidFile, 'utf8')))).toBe(false);
    });
  }

  it.skipIf(skip)('start: a failing startContainer hook is start\'s error; the container stops before its exec', async () => {
    const h = setup({ startContainer: 'fail' });
    const id = `hooks-startfail-${mode}-${process.pid}`;
    expect(detachedVerb(who(), ['create', '--bundle', h.bundle, id])).toEqual({ status: 0, log: '' });
    const r = launchSync(who(), ['start', id]);
    expect(r.stderr).toBe(`launch: start ${id}: hooks.startContainer[0]: hook \`${join(h.dir, 'hook')}\` exited with status 3\n`);
    expect(r.status).toBe(125);
    await until('the init exited', () => JSON.parse(launchSync(who(), ['state', id]).stdout).status === 'stopped');
    expect(existsSync(join(h.dir, 'process'))).toBe(false);
    expect(launchSync(who(), ['delete', id])).toMatchObject({ status: 0, stderr: '' });
    expect(h.lines().map((l) => l[0])).toEqual(['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststop']);
  });

  it.skipIf(skip)('run: failing poststart and poststop hooks are warnings; the container\'s status stands', () => {
    const h = setup({ poststart: 'fail', poststop: 'fail' });
    const id = `hooks-warn-${mode}-${process.pid}`;
    const r = launchSync(who(), ['run', '--bundle', h.bundle, id]);
    const path = join(h.dir, 'hook');
    expect(r.stderr).toBe(
      `launch: warning: hooks.poststart[0]: hook \`${path}\` exited with status 3\nlaunch: warning: hooks.poststop[0]: hook \`${path}\` exited with status 3\n`,
    );
    expect(r.status).toBe(0);
    expect(readdirSync(stateRoot(who()))).not.toContain(id);
  });
});
