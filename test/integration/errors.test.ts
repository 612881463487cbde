// Bad input: one line naming the config path and file, a distinct exit code, nothing left behind.
import { readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupBase, makeBundle, testBase } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { exitOf, launchChild, launchSync, runBundle, stateRoot, waitFor } from '../helpers/launch.js';

afterAll(cleanupBase);

/** Containers' state; not the seccomp program cache (lib/runtime/seccomp.ts), a dot name. */
function stateEntries(root: string): string[] {
  try {
    return readdirSync(root).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

eachMode('errors', ['busybox', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  const cases: { name: string; make: () => string; line: RegExp; code: number }[] = [
    {
      name: 'invalid JSON',
      make: () => {
        const b = makeBundle(who(), { args: ['/bin/true'] });
        writeFileSync(join(b, 'config.json'), '{"ociVersion": "1.2.0",\n  "process": {,}}');
        return b;
      },
      line: /^launch: run \S+: invalid JSON \(.*\) at line 2, column 15 of `.*config\.json`$/,
      code: 125,
    },
    {
      name: 'a wrong type in the config',
      make: () => makeBundle(who(), { args: ['/bin/true'], edit: (s) => void ((s.linux!.namespaces as unknown[])[0] = { type: 42 }) }),
      line: /^launch: run \S+: linux\.namespaces\[0\]\.type: .*config\.json/,
      code: 125,
    },
    {
      name: 'a missing config.json',
      make: () => {
        const b = makeBundle(who(), { args: ['/bin/true'] });
        rmSync(join(b, 'config.json'));
        return b;
      },
      line: /^launch: run \S+: .*`.*config\.json`: No such file or directory \(ENOENT\)$/,
      code: 125,
    },
    {
      name: 'a missing root filesystem',
      make: () => makeBundle(who(), { args: ['/bin/true'], edit: (s) => void (s.root = { path: '/nonexistent-rootfs' }) }),
      line: /^launch: run \S+: root\.path: root filesystem is missing `\/nonexistent-rootfs`: No such file or directory \(ENOENT\)$/,
      code: 125,
    },
    {
      name: 'a program that does not exist (PATH search)',
      make: () => makeBundle(who(), { args: ['no-such-program'] }),
      line: /^launch: run \S+: process\.args\[0\]: executable file not found in \$PATH: `no-such-program`: No such file or directory \(ENOENT\)$/,
      code: 127,
    },
    {
      name: 'a program path that does not exist',
      make: () => makeBundle(who(), { args: ['/bin/nope'] }),
      line: /^launch: run \S+: process\.args\[0\]: executable file not found: `\/bin\/nope`/,
      code: 127,
    },
    {
      name: 'a program that is not executable',
      make: () => makeBundle(who(), { args: ['/bin/not-executable'] }),
      line: /^launch: run \S+: process\.args\[0\]: cannot execute `\/bin\/not-executable`: Permission denied \(EACCES\)$/,
      code: 126,
    },
    {
      name: 'a mount that fails',
      make: () =>
        makeBundle(who(), {
          args: ['/bin/true'],
          edit: (s) => void s.mounts!.push({ destination: '/mnt', type: 'no-such-fs', source: 'x' }),
        }),
      line: /^launch: run \S+: mounts\[\d+\]: mount `no-such-fs` on `\/mnt`: No such device \(ENODEV\)$/,
      code: 125,
    },
    {
      name: 'a bind source that does not exist',
      make: () =>
        makeBundle(who(), {
          args: ['/bin/true'],
          edit: (s) => void s.mounts!.push({ destination: '/mnt', type: 'bind', source: '/no/such/dir', options: ['rbind'] }),
        }),
      line: /^launch: run \S+: mounts\[\d+\]\.source: bind source does not exist `\/no\/such\/dir`: No such file or directory \(ENOENT\)$/,
      code: 125,
    },
  ];

  for (const c of cases) {
    it.skipIf(skip)(`${c.name}: one line, exit ${c.code}, nothing left behind`, () => {
      const r = runBundle(who(), c.make());
      expect(r.stdout).toBe('');
      expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
      expect(r.stderr.trimEnd()).toMatch(c.line);
      expect(r.status).toBe(c.code);
      expect(stateEntries(stateRoot(who()))).toEqual([]);
      // No mount of ours on the host (other test files mount and unmount things meanwhile:
      // podman, containerd; so not a count).
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(testBase());
    });
  }

  it.skipIf(skip)('refuses a second container with the same id while the first runs, and bad ids', async () => {
    const id = `dup-${process.pid}`;
    const first = launchChild(who(), ['run', '--bundle', makeBundle(who(), { args: ['/bin/sh', '-c', 'trap "exit 0" TERM; echo ready; while :; do sleep 0.05; done'] }), id]);
    try {
      await waitFor(first.stdout!, 'ready');
      const r = runBundle(who(), makeBundle(who(), { args: ['/bin/true'] }), { id });
      expect(r.stderr.trimEnd()).toMatch(new RegExp(`^launch: run ${id}: container \`${id}\` already exists`));
      expect(r.status).toBe(125);
    } finally {
      first.kill('SIGTERM');
      await exitOf(first);
    }
    const bad = launchSync(who(), ['run', '--bundle', makeBundle(who(), { args: ['/bin/true'] }), '../escape']);
    expect(bad.stderr).toMatch(/^launch: run \.\.\/escape: invalid container id/);
    expect(bad.status).toBe(125);
    expect(stateEntries(stateRoot(who()))).toEqual([]);
  });
});
