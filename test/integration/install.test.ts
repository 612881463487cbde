// A new user's first steps, as the README tells them: `npm install` builds launch and records
// the commit it was built from (bin/launch --version said `commit: unknown` in every
// checkout), and `launch` is put on PATH by a symlink of bin/launch (into ~/.local/bin, or the
// one `npm link` makes): bin/launch must find the checkout through the symlink.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { missing } from '../helpers/env.js';
import { BINARY, LAUNCH } from '../helpers/launch.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const skip = BINARY ? 'bin/launch only (LAUNCH_BINARY is the single executable, test/integration/binary.test.ts)' : missing('dist');
const isGitTop = spawnSync('git', ['-C', ROOT, 'rev-parse', '--show-toplevel'], { encoding: 'utf8' }).stdout?.trim() === ROOT.replace(/\/$/, '');

const dir = mkdtempSync(join(tmpdir(), 'launch-install-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run `launch ARGS` by its name, found in PATH as a shell finds it. */
function byName(pathDir: string, args: string[]) {
  return spawnSync('/bin/sh', ['-c', 'exec launch "$@"', 'sh', ...args], {
    encoding: 'utf8',
    env: { PATH: `${pathDir}:${process.env.PATH}`, HOME: dir },
    timeout: 30_000,
  });
}

describe('bin/launch after npm install', () => {
  it.skipIf(skip)('--version names the commit the build was made from', () => {
    const r = spawnSync(LAUNCH, ['--version'], { encoding: 'utf8', env: { PATH: process.env.PATH } });
    expect(r.status).toBe(0);
    const recorded = JSON.parse(readFileSync(join(ROOT, 'dist/build-info.json'), 'utf8')).commit;
    const line = r.stdout.split('\n').find((l) => l.startsWith('commit: '));
    expect(line).toBe(`commit: ${recorded ?? 'unknown'}`);
    if (!isGitTop) return; // a copy without its .git: unknown is the truth
    expect(recorded).toMatch(/^[0-9a-f]{40}(-dirty)?$/);
    // A commit of this checkout (not necessarily HEAD: commits made since the last build).
    expect(spawnSync('git', ['-C', ROOT, 'cat-file', '-e', `${recorded.slice(0, 40)}^{commit}`]).status).toBe(0);
  });

  it.skipIf(skip)('runs through a symlink in a PATH directory (~/.local/bin)', () => {
    const bin = join(dir, 'home/.local/bin');
    mkdirSync(bin, { recursive: true });
    symlinkSync(join(ROOT, 'bin/launch'), join(bin, 'launch'));
    const r = byName(bin, ['--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^launch version \d+\.\d+\.\d+\ncommit: /);
    expect(r.status).toBe(0);
    // A verb that loads more than --version: spec writes a config.json.
    const bundle = join(dir, 'bundle');
    mkdirSync(bundle);
    const spec = byName(bin, ['spec', '--bundle', bundle]);
    expect(spec.stderr).toBe('');
    expect(JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')).ociVersion).toMatch(/^1\./);
  });

  it.skipIf(skip)('through a relative symlink, and through the chain `npm link` makes', () => {
    const rel = join(dir, 'rel/bin');
    mkdirSync(rel, { recursive: true });
    symlinkSync(relative(rel, join(ROOT, 'bin/launch')), join(rel, 'launch'));
    expect(byName(rel, ['--version']).stdout).toMatch(/^launch version /);
    // npm link: PREFIX/bin/launch -> ../lib/node_modules/launch/bin/launch, and
    // PREFIX/lib/node_modules/launch -> the checkout.
    const prefix = join(dir, 'prefix');
    mkdirSync(join(prefix, 'bin'), { recursive: true });
    mkdirSync(join(prefix, 'lib/node_modules'), { recursive: true });
    symlinkSync(ROOT, join(prefix, 'lib/node_modules/launch'));
    symlinkSync('../lib/node_modules/launch/bin/launch', join(prefix, 'bin/launch'));
    const r = byName(join(prefix, 'bin'), ['--version']);
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^launch version /);
  });
});
