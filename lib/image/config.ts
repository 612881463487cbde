// The image config (image-spec config.md; docker's image JSON has the same fields): checked
// for the fields launch turns into a runtime config, so their users can trust the types.
// Docker writes absent values as null (`"Entrypoint": null`, `"Labels": null`); those become
// absent, except Entrypoint and Cmd, where null is what docker itself keeps.
import { parseDigest } from './digest.js';
import { imageError } from './store.js';
import type { ImageConfig } from './types.js';

export const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every((s) => typeof s === 'string');
const isStringMap = (v: unknown): v is Record<string, string> => isObject(v) && Object.values(v).every((s) => typeof s === 'string');

type Check = [field: string, ok: (v: unknown) => boolean, want: string];

const RUN_FIELDS: Check[] = [
  ['User', (v) => typeof v === 'string', 'a string'],
  ['WorkingDir', (v) => typeof v === 'string', 'a string'],
  ['StopSignal', (v) => typeof v === 'string', 'a string'],
  ['Env', isStringArray, 'a list of strings'],
  ['Entrypoint', isStringArray, 'a list of strings'],
  ['Cmd', isStringArray, 'a list of strings'],
  ['Labels', isStringMap, 'an object of strings'],
  ['ExposedPorts', isObject, 'an object'],
  ['Volumes', isObject, 'an object'],
];

/** The parsed config document, checked; `subject` (`config sha256:...`) and `path` name it. */
export function checkImageConfig(doc: unknown, subject: string, path: string): ImageConfig {
  const bad = (field: string, want: string) => imageError('spec', 'IMAGE_CONFIG', `${subject}: ${field} must be ${want}`, path);
  if (!isObject(doc)) throw bad('the document', 'a JSON object');
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || !Array.isArray(rootfs.diff_ids)) throw bad('rootfs.diff_ids', 'a list of digests');
  rootfs.diff_ids.forEach((d, i) => {
    const parsed = parseDigest(d);
    if (typeof parsed === 'string') throw bad(`rootfs.diff_ids[${i}]`, `a digest (${parsed})`);
  });
  for (const f of ['architecture', 'os', 'variant', 'created'] as const) {
    if (doc[f] !== undefined && typeof doc[f] !== 'string') throw bad(f, 'a string');
  }
  if (doc.config === null) delete doc.config;
  if (doc.config !== undefined) {
    const run = doc.config;
    if (!isObject(run)) throw bad('config', 'an object');
    for (const [field, ok, want] of RUN_FIELDS) {
      if (run[field] === null && field !== 'Entrypoint' && field !== 'Cmd') delete run[field];
      if (run[field] === undefined || run[field] === null) continue;
      if (!ok(run[field])) throw bad(`config.${field}`, want);
    }
  }
  return doc as ImageConfig;
}
