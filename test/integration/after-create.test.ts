// `exec` and `delete` take what they need of the config from the state `create` wrote (as
// runc, whose state.json holds the whole config), never from the bundle, which may be gone by
// then, as root and rootless (issue 18):
// - `run --image` has no config.json at all: its bundle is the image's cached tree in the store
//   and its config lives in memory;
// - a plain bundle whose config.json is removed after create: the same exec and delete -f.
//   Both seen failing with exec and delete made to read `<bundle>/config.json` again, as before
//   6bec77b, which recorded the config: exec ended with ENOENT on
//   `<store>/rootfs/sha256-.../config.json` (the plain bundle's config.json likewise), and
//   delete -f warned `hooks not run` on it, root and rootless.
import { existsSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Hook } from '../../lib/spec/schema.js';
import { cleanupBaseInUserns, makeBundle, ownedDir, testBase } from '../helpers/bundle.js';
import { eachMode, missing, runAs } from '../helpers/env.js';
import { writeLayeredImage } from '../helpers/layered-image.js';
import { detachedVerb, launchSync, stateRoot } from '../helpers/launch.js';

let layout: string;

beforeAll(async () => {
  // The image is busybox's: without it every test skips (eachMode), and so does this.
  if (missing('busybox')) return;
  layout = (await writeLayeredImage(join(testBase(), 'image'), { zstd: false })).layout;
}, 120_000);

// The rootless tree holds files of subordinate ids.
afterAll(() => cleanupBaseInUserns());

const marker = (dir: string): Hook => ({ path: '/bin/sh', args: ['sh', '-c', `echo ran >> ${dir}/poststop`] });

eachMode('exec and delete after create', ['busybox', 'dist', 'addon', 'newuidmap'], (mode, skip) => {
  const who = () => runAs(mode)!;
  const name = (what: string) => `${what}-${mode}-${process.pid}`;

  it.skipIf(skip)('run --image: exec and delete -f with no config.json in the image tree', () => {
    const store = join(ownedDir(who(), 'store'), 'store');
    const id = name('image');
    const run = detachedVerb(who(), ['run', '--detach', id, '--image', `oci:${layout}:v1`, '--store', store, '--', 'exec busybox sleep 1000']);
    expect(run).toEqual({ status: 0, log: '' });
    try {
      const bundle = JSON.parse(launchSync(who(), ['state', id]).stdout).bundle as string;
      expect(bundle.startsWith(join(store, 'rootfs/'))).toBe(true);
      expect(existsSync(join(bundle, 'config.json'))).toBe(false);
      // The image's process is the base: its user (app, 1234) and environment.
      const exec = launchSync(who(), ['exec', id, 'sh', '-c', 'echo $GREETING; id -u']);
      expect(exec).toMatchObject({ status: 0, stderr: '', stdout: 'layered\n1234\n' });
    } finally {
      expect(launchSync(who(), ['delete', '--force', id])).toMatchObject({ status: 0, stderr: '' });
    }
    expect(readdirSync(stateRoot(who()))).not.toContain(id);
  });

  it.skipIf(skip)('a bundle whose config.json is removed after create: exec and delete -f as before', () => {
    const marks = ownedDir(who(), 'marks');
    const bundle = makeBundle(who(), {
      args: ['/bin/sleep', '1000'],
      edit: (s) => {
        s.process!.env = [...(s.process!.env ?? []), 'FROM_CONFIG=at-create'];
        s.hooks = { poststop: [marker(marks)] };
      },
    });
    const id = name('gone');
    expect(detachedVerb(who(), ['create', '--bundle', bundle, id])).toEqual({ status: 0, log: '' });
    rmSync(join(bundle, 'config.json'));
    try {
      expect(launchSync(who(), ['start', id])).toMatchObject({ status: 0, stderr: '' });
      const exec = launchSync(who(), ['exec', id, '/bin/sh', '-c', 'echo $FROM_CONFIG']);
      expect(exec).toMatchObject({ status: 0, stderr: '', stdout: 'at-create\n' });
    } finally {
      expect(launchSync(who(), ['delete', '--force', id])).toMatchObject({ status: 0, stderr: '' });
    }
    expect(readFileSync(join(marks, 'poststop'), 'utf8')).toBe('ran\n');
    expect(readdirSync(stateRoot(who()))).not.toContain(id);
  });
});
