import { expect } from 'vitest';
import { LaunchError } from '../../lib/errors.js';

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
