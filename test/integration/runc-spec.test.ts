// A bundle made by the reference generator, `runc spec` / `runc spec --rootless`, runs
// unchanged: its default is an interactive `sh` on a terminal, fed here from a pipe.
import { spawnSync } from 'node:child_process';
import { symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { busyboxRootfs, cleanupBase, ownedDir } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { runBundle, spawnOptions } from '../helpers/launch.js';

afterAll(cleanupBase);

eachMode('runc spec bundle', ['busybox', 'runc', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;

  it.skipIf(skip)('runs the generated config unchanged, with a terminal', () => {
    const bundle = ownedDir(who(), 'runc-spec');
    const gen = spawnSync('runc', mode === 'rootless' ? ['spec', '--rootless'] : ['spec'], { ...spawnOptions(who()), cwd: bundle, encoding: 'utf8' });
    expect(gen.stderr).toBe('');
    symlinkSync(busyboxRootfs(who()), join(bundle, 'rootfs'));
    const r = runBundle(who(), bundle, { input: 'hostname; [ -t 0 ] && echo on-a-tty; exit 3\n' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('\nrunc\r\n');
    expect(r.stdout).toContain('on-a-tty\r\n');
    expect(r.status).toBe(3);
  });
});
