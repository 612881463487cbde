// The unprivileged user the rootless half of the integration tests runs as, when the suite
// itself runs as root: LAUNCH_TEST_USER, default `launchtest` (which .ci/run creates). No
// vitest import here: test/helpers/global-setup.ts uses it from vitest's main process.
import { spawnSync } from 'node:child_process';

export const DEFAULT_TEST_USER = 'launchtest';

export const testUserName = (env: NodeJS.ProcessEnv = process.env): string => env.LAUNCH_TEST_USER || DEFAULT_TEST_USER;

export interface PasswdEntry {
  uid: number;
  gid: number;
  home: string;
}

/** The user's passwd entry (getent: local files, LDAP...), or undefined. */
export function passwdEntry(name: string): PasswdEntry | undefined {
  const r = spawnSync('getent', ['passwd', name], { encoding: 'utf8' });
  const fields = r.status === 0 ? r.stdout.trim().split(':') : [];
  return fields.length >= 6 ? { uid: Number(fields[2]), gid: Number(fields[3]), home: fields[5]! } : undefined;
}

/** Why the rootless half cannot run, or undefined when it can: only root needs a test user
 * (an ordinary user's suite runs rootless as itself). */
export function rootlessUserMissing(
  env: NodeJS.ProcessEnv = process.env,
  uid: number = process.getuid!(),
  lookup: (name: string) => PasswdEntry | undefined = passwdEntry,
): string | undefined {
  if (uid !== 0) return undefined;
  const name = testUserName(env);
  if (lookup(name)) return undefined;
  return env.LAUNCH_TEST_USER
    ? `no user \`${name}\` (LAUNCH_TEST_USER names a user that does not exist)`
    : `no user \`${name}\` (create it, as .ci/run does, or name another with LAUNCH_TEST_USER=name)`;
}

/** The line the suite prints once, before any test, when the rootless half will skip. */
export function rootlessNotice(why: string, env: NodeJS.ProcessEnv = process.env): string {
  const name = testUserName(env);
  return [
    `launch tests: the rootless half of the integration tests is skipped: ${why}.`,
    `  To run it: useradd --create-home ${name} && usermod --add-subuids 200000-265535 --add-subgids 200000-265535 ${name}`,
    `  (what .ci/run does for \`launchtest\`), or LAUNCH_TEST_USER=name npm test for an existing user.`,
  ].join('\n');
}
