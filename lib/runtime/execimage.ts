// The exec trampoline (addon/exec/trampoline.c): the container's program is exec'd by it, from
// a sealed memfd, so that /proc/self/exe never names launch's own binary inside the container
// (CVE-2019-5736). Carried inside the single executable, else built next to the addon. A
// launch without it refuses to start containers rather than start them unprotected.
import { readFileSync } from 'node:fs';
import { hostError } from '../errors.js';
import { asset, isBinary } from './embedded.js';
import { addonDir } from './native.js';

let image: Buffer | undefined;

export function execImage(): Buffer {
  if (image) return image;
  if (isBinary()) return (image = asset('exec'));
  const file = `${addonDir()}/launch-exec`;
  try {
    return (image = readFileSync(file));
  } catch (err) {
    throw hostError('the exec trampoline is missing (npm run build:addon)', { file, cause: err });
  }
}
