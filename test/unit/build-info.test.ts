// What `launch --version` names as its commit: recorded by `npm run build` (scripts/build-info.mjs
// into dist/build-info.json) and read by lib/cli/version.ts. Before it, bin/launch said
// `commit: unknown` in every checkout; only the single executable knew its commit.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { recordedCommit } from '../../lib/cli/version.js';
import { buildCommit, gitCommit, writeBuildInfo } from '../../scripts/build-info.mjs';

const dir = mkdtempSync(join(tmpdir(), 'launch-build-info-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const noGit = spawnSync('git', ['--version']).status === 0 ? undefined : 'needs git';
const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'init.defaultBranch=main', ...args], { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();

/** A git checkout with one commit of a tracked file; its HEAD. */
function checkout(name: string): { root: string; head: string } {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  git(root, 'init', '-q');
  writeFileSync(join(root, 'package.json'), '{}\n');
  git(root, 'add', 'package.json');
  git(root, 'commit', '-q', '-m', 'one');
  return { root, head: git(root, 'rev-parse', 'HEAD') };
}

describe('the recorded commit', () => {
  it.skipIf(noGit)('a clean checkout: its HEAD; a changed tracked file: HEAD-dirty; untracked files do not count', () => {
    const { root, head } = checkout('clean');
    expect(head).toMatch(/^[0-9a-f]{40}$/);
    writeFileSync(join(root, 'untracked'), 'x');
    expect(gitCommit(root)).toBe(head);
    writeFileSync(join(root, 'package.json'), '{"changed":true}\n');
    expect(gitCommit(root)).toBe(`${head}-dirty`);
  });

  it.skipIf(noGit)('a copy inside another repository (vendored, an unpacked tarball) is not given its commit', () => {
    const { root } = checkout('outer');
    const inner = join(root, 'vendor/launch');
    mkdirSync(inner, { recursive: true });
    expect(gitCommit(inner)).toBeUndefined();
    expect(gitCommit(join(dir))).toBeUndefined();
  });

  it('LAUNCH_COMMIT names it where git cannot', () => {
    const plain = join(dir, 'tarball');
    mkdirSync(plain, { recursive: true });
    expect(buildCommit(plain, {})).toBeUndefined();
    expect(buildCommit(plain, { LAUNCH_COMMIT: 'abc123' })).toBe('abc123');
  });

  it.skipIf(noGit)('is written into the build and read back by --version', () => {
    const { root, head } = checkout('built');
    const out = join(root, 'dist');
    expect(writeBuildInfo(out, root, {})).toEqual({ commit: head });
    expect(JSON.parse(readFileSync(join(out, 'build-info.json'), 'utf8'))).toEqual({ commit: head });
    expect(recordedCommit(pathToFileURL(join(out, 'build-info.json')))).toBe(head);
  });

  it('unknown stays unknown: no record, a record without a commit, a broken record', () => {
    const out = join(dir, 'unknown');
    expect(writeBuildInfo(out, out, {})).toEqual({ commit: null });
    const info = pathToFileURL(join(out, 'build-info.json'));
    expect(recordedCommit(info)).toBeUndefined();
    writeFileSync(info, '{"commit":');
    expect(recordedCommit(info)).toBeUndefined();
    expect(recordedCommit(pathToFileURL(join(dir, 'nothing.json')))).toBeUndefined();
  });
});
