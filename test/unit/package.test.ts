// A fresh clone's `npm install` must leave the tree clean: npm rewrites package-lock.json when
// its record of package.json (the root entry, packages[""]) disagrees with package.json, and a
// rewritten lock makes the checkout dirty, so every build said `commit: ...-dirty` (issue 18).
// It did: package.json pinned "node": "24.21.0" while the lock still said "^24.0.0".
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));
const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
const npm = spawnSync('npm', ['--version'], { encoding: 'utf8' });

describe('package-lock.json', () => {
  it('records package.json as it is (what npm would otherwise rewrite)', () => {
    const root = lock.packages[''];
    expect([lock.name, lock.version]).toEqual([pkg.name, pkg.version]);
    for (const field of ['name', 'version', 'license', 'bin', 'engines', 'dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']) {
      expect(root[field], `packages[""].${field}`).toEqual(pkg[field]);
    }
    // Every dependency named there is locked at a version its range takes: an exact pin must
    // be the locked version itself.
    for (const [name, range] of Object.entries({ ...pkg.dependencies, ...pkg.devDependencies }) as [string, string][]) {
      const locked = lock.packages[`node_modules/${name}`];
      expect(locked, `node_modules/${name} locked`).toBeDefined();
      if (/^\d+\.\d+\.\d+(-[\w.]+)?$/.test(range)) expect(locked.version, name).toBe(range);
    }
  });

  it.skipIf(npm.status !== 0 ? 'needs npm' : undefined)('npm install --package-lock-only leaves it byte for byte as it is', () => {
    // The lock alone, in a scratch directory: no node_modules is touched, no script runs, and
    // an empty cache with --offline proves npm needs nothing it does not already have.
    const dir = mkdtempSync(join(tmpdir(), 'launch-lock-'));
    try {
      copyFileSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
      copyFileSync(join(ROOT, 'package-lock.json'), join(dir, 'package-lock.json'));
      const r = spawnSync('npm', ['install', '--package-lock-only', '--ignore-scripts', '--offline', '--no-audit', '--no-fund', '--cache', join(dir, 'cache')], {
        cwd: dir,
        encoding: 'utf8',
        env: { ...process.env, npm_config_userconfig: join(dir, 'npmrc') },
        timeout: 60_000,
      });
      expect(r.status, r.stderr).toBe(0);
      expect(readFileSync(join(dir, 'package-lock.json'), 'utf8')).toBe(readFileSync(join(ROOT, 'package-lock.json'), 'utf8'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
