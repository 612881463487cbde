// Runs once per `vitest run`, in vitest's main process, before any test file: says what a
// whole half of the suite will skip and how to enable it. A skipped case's reason is in its
// describe title, but the default reporter shows passing files as counts only, so a root run
// without the test user looked complete while skipping every rootless case.
import { rootlessNotice, rootlessUserMissing } from './test-user.js';

export default function setup(): void {
  const why = rootlessUserMissing();
  if (why) process.stderr.write(`${rootlessNotice(why)}\n`);
}
