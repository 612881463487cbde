// The command line TypeScript gives the native monitor (addon/monitor/monitor.c's grammar).
import { describe, expect, it } from 'vitest';
import { monitorArgv } from '../../lib/runtime/monitor.js';

describe('monitorArgv', () => {
  it('says what to wait for, what to pass on and what to tear down, in order', () => {
    const argv = monitorArgv({
      pidfd: 7,
      forward: [2, 15],
      ptyMaster: 9,
      teardown: {
        poststop: {
          hooks: [
            { path: '/bin/a', args: ['a', '-x'], env: ['K=V', 'BROKEN', '=x'], timeout: 5 },
            { path: '/bin/b', timeout: 2 ** 31 },
          ],
          state: '{"id":"c"}',
        },
        rmdirs: ['/sys/fs/cgroup/pids/c', '/sys/fs/cgroup/pids'],
        stateDir: '/run/launch/c',
      },
    });
    expect(argv).toEqual([
      'launch', '--pidfd', '7', '--forward', '2,15', '--pty', '9', '--state', '{"id":"c"}',
      // env entries without NAME= are dropped, as for spawn; an absent env is launch's own (-1);
      // a timeout past 2^31 ms is none (0), as in hooks.ts.
      '--hook', 'hooks.poststop[0]', '5', '/bin/a', '2', 'a', '-x', '1', 'K=V',
      '--hook', 'hooks.poststop[1]', '0', '/bin/b', '0', '-1',
      '--rmdir', '/sys/fs/cgroup/pids/c', '--rmdir', '/sys/fs/cgroup/pids', '--remove-dir', '/run/launch/c',
    ]);
  });

  it('with --keep, waits and tears nothing down', () => {
    expect(monitorArgv({ pidfd: 3, forward: [] })).toEqual(['launch', '--pidfd', '3']);
  });
});
