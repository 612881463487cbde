import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fromNodeError } from '../errors.js';
import { defaultSpec } from '../spec/generate.js';

export function specVerb(o: { bundle: string; rootless: boolean }): void {
  const file = join(resolve(o.bundle), 'config.json');
  const spec = defaultSpec({ rootless: o.rootless });
  try {
    // 'wx': like runc, never overwrite an existing config.
    writeFileSync(file, `${JSON.stringify(spec, null, '\t')}\n`, { flag: 'wx' });
  } catch (err) {
    throw fromNodeError('usage', (err as NodeJS.ErrnoException).code === 'EEXIST' ? 'config already exists' : 'cannot write', err, { file });
  }
}
