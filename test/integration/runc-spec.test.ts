// A bundle made by the reference generator, `runc spec` / `runc spec --rootless`, runs
// unchanged: its default is an interactive `sh` on a terminal, fed here from a pipe. `launch spec`
// writes the same document, as the installed runc writes it, except that it confines the process
// as `docker run` does (Docker's 14 capabilities and default seccomp profile); that one runs too.
import { spawnSync } from 'node:child_process';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { DEFAULT_CAPS, SECCOMP_KERNEL } from '../../lib/spec/generate.js';
import { defaultSeccomp } from '../../lib/spec/seccomp-default.js';
import { busyboxRootfs, cleanupBase, ownedDir } from '../helpers/bundle.js';
import { eachMode, runAs } from '../helpers/env.js';
import { launchSync, runBundle, spawnOptions } from '../helpers/launch.js';

afterAll(cleanupBase);

eachMode('runc spec bundle', ['busybox', 'runc', 'dist', 'addon'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const rootless = mode === 'rootless' ? ['--rootless'] : [];
  const runcSpec = (dir: string) => {
    const gen = spawnSync('runc', ['spec', ...rootless], { ...spawnOptions(who()), cwd: dir, encoding: 'utf8' });
    expect(gen.stderr).toBe('');
  };
  const launchSpec = (dir: string) => expect(launchSync(who(), ['spec', ...rootless, '--bundle', dir])).toMatchObject({ status: 0, stderr: '' });
  const read = (dir: string) => JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  // A terminal, the hostname, a subshell (fork under the filter), the exit status.
  const session = (bundle: string) => {
    const r = runBundle(who(), bundle, { input: 'hostname; [ -t 0 ] && echo on-a-tty; echo "$(echo forked)"; exit 3\n' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toContain('\nrunc\r\n');
    expect(r.stdout).toContain('on-a-tty\r\n');
    expect(r.stdout).toContain('forked\r\n');
    expect(r.status).toBe(3);
  };

  it.skipIf(skip)('runs the generated config unchanged, with a terminal', () => {
    const bundle = ownedDir(who(), 'runc-spec');
    runcSpec(bundle);
    symlinkSync(busyboxRootfs(who()), join(bundle, 'rootfs'));
    session(bundle);
  });

  it.skipIf(skip)('launch spec: runc\'s document field for field, but confined as by Docker', () => {
    const runcDir = ownedDir(who(), 'runc-spec');
    const launchDir = ownedDir(who(), 'launch-spec');
    runcSpec(runcDir);
    launchSpec(launchDir);
    const runc = read(runcDir);
    const launch = read(launchDir);
    expect(launch.process.capabilities).toEqual({ bounding: DEFAULT_CAPS, effective: DEFAULT_CAPS, permitted: DEFAULT_CAPS });
    expect(launch.linux.seccomp).toEqual(defaultSeccomp({ caps: DEFAULT_CAPS, kernel: SECCOMP_KERNEL }));
    expect(runc.linux.seccomp).toBeUndefined();
    // The rest, key order included, is runc's; ociVersion is each runtime's own.
    launch.process.capabilities = runc.process.capabilities;
    delete launch.linux.seccomp;
    expect(JSON.stringify({ ...launch, ociVersion: runc.ociVersion }, null, 2)).toBe(JSON.stringify(runc, null, 2));
  });

  it.skipIf(skip)('runs the config launch spec writes, with a terminal', () => {
    const bundle = ownedDir(who(), 'launch-spec');
    launchSpec(bundle);
    symlinkSync(busyboxRootfs(who()), join(bundle, 'rootfs'));
    session(bundle);
  });

  // The shorthand promises rootless without editing the config: the plain document (devpts
  // with gid=5, which the namespace launch adds as an ordinary user does not map) runs, and
  // --debug names what was adapted.
  it.skipIf(skip)('`launch DIR` runs the plain launch spec config, adapting it when rootless', () => {
    const bundle = ownedDir(who(), 'launch-spec');
    expect(launchSync(who(), ['spec', '--bundle', bundle])).toMatchObject({ status: 0, stderr: '' });
    symlinkSync(busyboxRootfs(who()), join(bundle, 'rootfs'));
    const r = launchSync(who(), ['--debug', bundle], { input: 'ls /dev/pts; exit 4\n' });
    expect(r.stdout).toContain('ptmx');
    expect(r.status).toBe(4);
    const note = 'launch: debug: mounts[2].options: gid=5 is not mapped in the user namespace: dropped';
    if (mode === 'rootless') expect(r.stderr).toContain(note);
    else expect(r.stderr).not.toContain('gid=5');
  });
});
