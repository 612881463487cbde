import { expect } from 'vitest';
import { LaunchError, formatError } from '../../lib/errors.js';

/** The LaunchError `fn` throws (of `kind`, when given); fails the test if it throws nothing. */
export function thrown(fn: () => unknown, kind?: LaunchError['kind']): LaunchError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(LaunchError);
    if (kind) expect((err as LaunchError).kind).toBe(kind);
    return err as LaunchError;
  }
  throw new Error('expected a LaunchError, nothing was thrown');
}

/** The LaunchError `p` rejects with, and the line the user would read for it; fails the test
 * if it resolves. */
export async function rejection(p: Promise<unknown>): Promise<{ err: LaunchError; line: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(LaunchError);
    return { err: err as LaunchError, line: formatError(err) };
  }
  throw new Error('expected a LaunchError, the call succeeded');
}
