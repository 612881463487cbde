// Where a user's state goes when no --root is given: never somewhere another user can make
// first while a place of the user's own exists. Seen failing on the code before: defaultRoot
// went to /tmp/launch-<uid> whenever XDG_RUNTIME_DIR was unset.
import { describe, expect, it } from 'vitest';
import { defaultRoot, tmpRoot } from '../../lib/state/store.js';

describe('defaultRoot without XDG_RUNTIME_DIR', () => {
  const seen: string[] = [];
  const own = (dirs: string[]) => (path: string, uid: number) => (seen.push(`${path}:${uid}`), dirs.includes(path));

  it('takes the user\'s own /run/user/<uid>, and /tmp only when there is none', () => {
    expect(defaultRoot({}, 1000, false, own(['/run/user/1000']))).toBe('/run/user/1000/launch');
    expect(seen).toEqual(['/run/user/1000:1000']);
    expect(defaultRoot({}, 1000, false, own([]))).toBe(tmpRoot(1000));
    expect(tmpRoot(1000)).toBe('/tmp/launch-1000');
    // uid 0 in a user namespace is an ordinary user here.
    expect(defaultRoot({}, 0, true, own(['/run/user/0']))).toBe('/run/user/0/launch');
  });

  it('XDG_RUNTIME_DIR first, and root keeps /run/launch (runc: /run/runc)', () => {
    seen.length = 0;
    expect(defaultRoot({ XDG_RUNTIME_DIR: '/x' }, 1000, false, own(['/run/user/1000']))).toBe('/x/launch');
    expect(defaultRoot({}, 0, false, own(['/run/user/0']))).toBe('/run/launch');
    expect(seen).toEqual([]);
  });
});
