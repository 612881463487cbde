// formatError() is the only formatter: its exact lines are the user interface.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import {
  LaunchError, errnoName, formatError, fromNodeError, hostError, nodeErrno, setupError, specError, stateError,
  strerror, usageError,
} from '../../lib/errors.js';

const withContext = (e: LaunchError, context: string) => {
  e.context = context;
  return e;
};

describe('formatError', () => {
  it('all parts: context, config path, file, errno', () => {
    const e = withContext(setupError('mount `/data` on', { configPath: 'mounts[3]', file: '/srv', errno: 1 }), 'run web');
    expect(formatError(e)).toBe('launch: run web: mounts[3]: mount `/data` on `/srv`: Operation not permitted (EPERM)');
    const a = withContext(setupError('mount `/data` on', { configPath: 'mounts[3]', file: '/srv', errno: 13 }), 'run web');
    expect(formatError(a)).toBe('launch: run web: mounts[3]: mount `/data` on `/srv`: Permission denied (EACCES)');
  });

  it('a file name with a newline (legal on Linux) stays on the one line, escaped', () => {
    expect(formatError(specError('root filesystem is missing', { configPath: 'root.path', file: '/b/a\nb\u2028c' }))).toBe(
      'launch: root.path: root filesystem is missing `/b/a\\nb\\u2028c`',
    );
  });

  it('each optional part left out', () => {
    expect(formatError(usageError('no command given'))).toBe('launch: no command given');
    expect(formatError(specError('is required to run a container', { configPath: 'process' }))).toBe(
      'launch: process: is required to run a container',
    );
    expect(formatError(withContext(stateError('container `x` does not exist', { file: '/run/launch/x/state.json' }), 'run x'))).toBe(
      'launch: run x: container `x` does not exist `/run/launch/x/state.json`',
    );
    expect(formatError(hostError('cannot create the container process (clone3)', { errno: 28 }))).toBe(
      'launch: cannot create the container process (clone3): No space left on device (ENOSPC)',
    );
    expect(formatError(specError('root filesystem is missing', { configPath: 'root.path', file: '/b/rootfs', errno: 2 }))).toBe(
      'launch: root.path: root filesystem is missing `/b/rootfs`: No such file or directory (ENOENT)',
    );
    // An empty file name is still shown.
    expect(formatError(setupError('exec', { file: '' }))).toBe('launch: exec ``');
  });

  it('debug adds nothing without a cause', () => {
    const e = specError('bad', { configPath: 'hostname' });
    expect(formatError(e, true)).toBe('launch: hostname: bad');
  });

  it('debug appends the cause chain, one line per cause', () => {
    const root = new Error('inner', { cause: 'the root cause' });
    const e = withContext(hostError('cannot load the native addon', { file: '/x.node', cause: root }), 'demo');
    expect(formatError(e)).toBe('launch: demo: cannot load the native addon `/x.node`');
    expect(formatError(e, true)).toBe(
      `launch: demo: cannot load the native addon \`/x.node\`\n  caused by: ${root.stack}\n  caused by: the root cause`,
    );
    const noStack = new Error('plain');
    noStack.stack = undefined;
    expect(formatError(specError('x', { cause: noStack }), true)).toBe('launch: x\n  caused by: plain');
  });

  it('anything else is an internal error with its stack', () => {
    const err = new TypeError('boom');
    expect(formatError(err)).toBe(`launch: internal error (this is a bug, please report it with the output below):\n${err.stack}`);
    expect(err.stack).toContain('TypeError: boom');
    expect(formatError('a string')).toBe('launch: internal error (this is a bug, please report it with the output below):\na string');
    expect(formatError(undefined)).toBe('launch: internal error (this is a bug, please report it with the output below):\nundefined');
  });
});

describe('LaunchError', () => {
  it('defaults: code from kind, exit code 125, no context', () => {
    const e = usageError('x');
    expect(e).toBeInstanceOf(Error);
    expect([e.name, e.kind, e.code, e.exitCode, e.context, e.cause]).toEqual(['LaunchError', 'usage', 'USAGE', 125, undefined, undefined]);
    expect('cause' in e).toBe(false);
    const s = setupError('y', { code: 'EXEC', exitCode: 127, syscall: 'execve', cause: 0 });
    expect([s.kind, s.code, s.exitCode, s.syscall, s.cause]).toEqual(['setup', 'EXEC', 127, 'execve', 0]);
    expect(new LaunchError('host', 'z').code).toBe('HOST');
  });
});

describe('errno helpers', () => {
  it('errnoName and strerror', () => {
    expect(errnoName(2)).toBe('ENOENT');
    expect(errnoName(13)).toBe('EACCES');
    expect(errnoName(1)).toBe('EPERM');
    expect(errnoName(11)).toBe('EAGAIN');
    expect(errnoName(99999)).toBe('errno 99999');
    expect(strerror(2)).toBe('No such file or directory');
    expect(strerror(13)).toBe('Permission denied');
    expect(strerror(95)).toBe('Operation not supported');
    expect(strerror(33)).toBe('EDOM'); // not in the table: the symbolic name
    expect(strerror(99999)).toBe('errno 99999');
  });

  it('nodeErrno from a real fs error, a code, or nothing', () => {
    let real: unknown;
    try {
      readFileSync('/nonexistent/launch-test');
    } catch (err) {
      real = err;
    }
    expect((real as NodeJS.ErrnoException).errno).toBe(-2);
    expect(nodeErrno(real)).toBe(2);
    expect(nodeErrno({ code: 'EACCES' })).toBe(13);
    expect(nodeErrno({ errno: 5, code: 'ENOENT' })).toBe(5);
    expect(nodeErrno({ code: 'ERR_INVALID_ARG_TYPE' })).toBeUndefined();
    expect(nodeErrno(new Error('x'))).toBeUndefined();
    expect(nodeErrno(undefined)).toBeUndefined();
    expect(nodeErrno(null)).toBeUndefined();
  });

  it('fromNodeError keeps errno, syscall and cause; init wins', () => {
    let real: unknown;
    try {
      readFileSync('/nonexistent/launch-test');
    } catch (err) {
      real = err;
    }
    const e = fromNodeError('state', 'cannot read the state', real, { file: '/nonexistent/launch-test' });
    expect([e.kind, e.errno, e.syscall, e.cause, e.file]).toEqual(['state', 2, 'open', real, '/nonexistent/launch-test']);
    expect(formatError(e)).toBe('launch: cannot read the state `/nonexistent/launch-test`: No such file or directory (ENOENT)');
    const o = fromNodeError('host', 'x', real, { errno: 13, syscall: 'openat' });
    expect([o.errno, o.syscall]).toEqual([13, 'openat']);
    const n = fromNodeError('host', 'y', 'not an error');
    expect([n.errno, n.syscall, n.cause]).toEqual([undefined, undefined, 'not an error']);
  });
});
