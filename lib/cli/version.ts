// `launch --version` / `-v`: runc's layout, which callers parse (first line `NAME version X`,
// then `commit:` and `spec:` lines).
export const LAUNCH_VERSION = '0.1.0';
export const SPEC_VERSION = '1.2.0';

export function versionText(): string {
  return [`launch version ${LAUNCH_VERSION}`, `commit: ${process.env.LAUNCH_COMMIT ?? 'unknown'}`, `spec: ${SPEC_VERSION}`, `node: ${process.version}`].join('\n');
}
