#!/usr/bin/env node
// What `launch --version` says it was built from. `npm run build` (and `prepare`, which
// `npm install` runs) ends here and writes dist/build-info.json; lib/cli/version.ts reads it.
// The single executable takes the same commit (scripts/build-binary.mjs).
//
// The commit is recorded at build time, not looked up when --version runs: the code that runs
// is what was built, a checkout moved on since is not, and an installed copy has no .git.
//
//   node scripts/build-info.mjs [OUT_DIR]     (default: dist)
//
// LAUNCH_COMMIT=SHA names the commit where git cannot (a release tarball); without either,
// the commit is unknown and --version says so.
import { spawnSync } from 'node:child_process';
import { mkdirSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

const git = (root, args) => spawnSync('git', ['-C', root, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

/** `SHA`, `SHA-dirty` (tracked files changed), or undefined when `root` is not the top of a
 * git checkout: a copy of launch inside some other repository (vendored, unpacked from a
 * tarball) must not be given that repository's commit. */
export function gitCommit(root = ROOT) {
  const top = git(root, ['rev-parse', '--show-toplevel']);
  if (top.status !== 0) return undefined;
  try {
    if (realpathSync(top.stdout.trim()) !== realpathSync(root)) return undefined;
  } catch {
    return undefined;
  }
  const head = git(root, ['rev-parse', '--verify', 'HEAD']);
  if (head.status !== 0) return undefined;
  const dirty = git(root, ['status', '--porcelain', '--untracked-files=no']).stdout.trim();
  return head.stdout.trim() + (dirty ? '-dirty' : '');
}

/** The commit to record: LAUNCH_COMMIT, else git's, else undefined. */
export function buildCommit(root = ROOT, env = process.env) {
  return env.LAUNCH_COMMIT || gitCommit(root);
}

/** Write `dir`/build-info.json (atomically: a build racing a --version must not read half). */
export function writeBuildInfo(dir, root = ROOT, env = process.env) {
  const info = { commit: buildCommit(root, env) ?? null };
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'build-info.json');
  writeFileSync(`${file}.tmp`, `${JSON.stringify(info)}\n`);
  renameSync(`${file}.tmp`, file);
  return info;
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  writeBuildInfo(resolve(process.argv[2] ?? join(ROOT, 'dist')));
}
