// runHooksSync (`start`'s poststart, `delete`'s poststop): a hook that does not read its state
// is no failure. Seen failing before the EPIPE case was handled: both cases warned "cannot run
// hook `/bin/sh`: Broken pipe (EPIPE)" instead of nothing and "exited with status 3".
import { expect, it } from 'vitest';
import { runHooksSync } from '../../lib/runtime/hooks.js';
import type { ContainerState } from '../../lib/state/store.js';

// More than a pipe holds: the write cannot finish before the hook has closed its stdin.
const state: ContainerState = { ociVersion: '1.2.0', id: 'c', status: 'stopped', bundle: '/b', annotations: { big: 'x'.repeat(256 * 1024) } };
const hook = (exit: number) => ({ path: '/bin/sh', args: ['sh', '-c', `exec 0<&-; exit ${exit}`] });

it('a hook that exits without reading its state: how it ended counts, not the EPIPE', () => {
  const warnings: string[] = [];
  runHooksSync({ poststop: [hook(0), hook(3)] }, 'poststop', state, { warnOnly: true, warn: (l) => warnings.push(l) });
  expect(warnings).toEqual(['launch: warning: hooks.poststop[1]: hook `/bin/sh` exited with status 3']);
});
