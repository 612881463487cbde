// A root run without the test user skipped the whole rootless half of the integration tests
// and said nothing (the reasons were only in describe titles, which the default reporter does
// not print for passing files). test/helpers/global-setup.ts now says it once per run, with
// how to enable it.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { rootlessNotice, rootlessUserMissing } from '../helpers/test-user.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const exists = () => ({ uid: 1000, gid: 1000, home: '/home/x' });
const absent = () => undefined;

describe('the rootless half without a test user', () => {
  it('only a root run needs one; an ordinary user runs rootless as itself', () => {
    expect(rootlessUserMissing({}, 1000, absent)).toBeUndefined();
    expect(rootlessUserMissing({}, 0, exists)).toBeUndefined();
  });

  it('names the missing user and both ways to enable the half', () => {
    expect(rootlessUserMissing({}, 0, absent)).toBe('no user `launchtest` (create it, as .ci/run does, or name another with LAUNCH_TEST_USER=name)');
    expect(rootlessUserMissing({ LAUNCH_TEST_USER: 'ci' }, 0, absent)).toBe('no user `ci` (LAUNCH_TEST_USER names a user that does not exist)');
    const notice = rootlessNotice('no user `launchtest` (...)', {});
    expect(notice).toMatch(/^launch tests: the rootless half of the integration tests is skipped: no user `launchtest`/);
    expect(notice).toContain('useradd --create-home launchtest');
    expect(notice).toContain('LAUNCH_TEST_USER=name npm test');
  });

  it.skipIf(process.getuid!() !== 0 ? 'a root run only' : undefined)('vitest prints it once per run, before the tests', () => {
    const vitest = (user: string) =>
      spawnSync(process.execPath, [fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url)), 'run', 'test/unit/build-info.test.ts'], {
        cwd: ROOT,
        encoding: 'utf8',
        env: { ...process.env, LAUNCH_TEST_USER: user, CI: 'true', NO_COLOR: '1' },
        timeout: 60_000,
      });
    const without = vitest('launch-no-such-user');
    expect(without.status, without.stderr).toBe(0);
    const said = `${without.stdout}${without.stderr}`.match(/the rootless half of the integration tests is skipped: no user `launch-no-such-user`/g);
    expect(said).toHaveLength(1);
    const withUser = vitest('nobody');
    expect(withUser.status).toBe(0);
    expect(`${withUser.stdout}${withUser.stderr}`).not.toContain('rootless half');
  });
});
