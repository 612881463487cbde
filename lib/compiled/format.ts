// The compiled bundle's file format, shared with its reader, the native runner
// (addon/monitor/compiled.c). A magic line, then fields `KEY LEN\nVALUE\n` (LEN counts VALUE's
// bytes, so a value may hold any byte), in the order compile.ts writes them; see
// docs/compiled-bundles.md. A field the runner does not know makes the entry one it ignores.
import { native } from '../runtime/native.js';

/** Must equal COMPILED_MAGIC in addon/monitor/compiled.h. */
export const COMPILED_MAGIC = 'launch-compiled 1\n';
/** The cache's directory in a state root (a dot name: `list` and ids never see it). */
export const COMPILED_DIR = '.compiled';
/** Entries kept per state root; the oldest go first. */
export const COMPILED_MAX = 64;
/** An entry larger than this is not written (nor read: COMPILED_MAX_BYTES in compiled.h). */
export const COMPILED_MAX_BYTES = 1 << 20;

/** Placeholders in the templates (plan strings, state.json, the front record): a 0x01 byte and
 * a letter. JSON never holds a raw 0x01 (it escapes it), and compile refuses a config that
 * holds one, so a placeholder is always one. */
export const PH = {
  id: '\x01I',
  pid: '\x01P',
  started: '\x01S',
  created: '\x01C',
  status: '\x01T',
  nsLink: '\x01L',
  /** The cgroup directories this start made: a JSON array in the state, lines in the front
   * record (the container's own, then the parents made for them). */
  made: '\x01M',
  rmdirs: '\x01R',
  parents: '\x01Q',
} as const;

export type Field = readonly [key: string, value: string | Uint8Array];

export function encodeEntry(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [Buffer.from(COMPILED_MAGIC)];
  for (const [key, value] of fields) {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
    parts.push(Buffer.from(`${key} ${bytes.length}\n`), bytes, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** The fields of an entry, or undefined when it is not one (a reader of the same rules as the
 * runner's, for --debug's "why a miss" and the tests). */
export function decodeEntry(buf: Buffer): Field[] | undefined {
  const magic = Buffer.from(COMPILED_MAGIC);
  if (buf.length < magic.length || !buf.subarray(0, magic.length).equals(magic)) return undefined;
  const out: Field[] = [];
  let p = magic.length;
  while (p < buf.length) {
    const nl = buf.indexOf(0x0a, p);
    if (nl < 0) return undefined;
    const m = /^([a-z-]+) (0|[1-9][0-9]*)$/.exec(buf.toString('latin1', p, nl));
    if (!m) return undefined;
    const len = Number(m[2]);
    const start = nl + 1;
    if (start + len + 1 > buf.length || buf[start + len] !== 0x0a) return undefined;
    out.push([m[1]!, buf.subarray(start, start + len)]);
    p = start + len + 1;
  }
  return out;
}

/** What names an entry: the command line's words that shape the result, the caller and where
 * it stands. The runner builds the same string from its own command line (compiled.c
 * lookup_key); the entry repeats it, compared whole, so a hash collision is only a miss. */
export interface LookupWords {
  uid: number;
  verb: 'run' | 'create';
  root: string;
  cwd: string;
  /** --bundle as typed ('.' when absent). */
  bundle: string;
  detach: boolean;
  keep: boolean;
  noPivot: boolean;
  noNewKeyring: boolean;
  pidFile: boolean;
}

export function lookupString(w: LookupWords): string {
  const flags = `d${+w.detach} k${+w.keep} p${+w.noPivot} n${+w.noNewKeyring} f${+w.pidFile}`;
  return [String(w.uid), w.verb, w.root, w.cwd, w.bundle, flags].join('\0');
}

/** FNV-1a, 64 bits, as 16 hex digits: the addon's (addon/common/fnv.h), which the runner
 * checks with. In JavaScript it ran in the interpreter in a cold start: ~2-3 ms over an entry. */
export const fnv1a64 = (bytes: Uint8Array): string => native().fnv1a64(bytes);

/** The entry's file name. */
export const entryName = (lookup: string): string => fnv1a64(Buffer.from(lookup, 'utf8'));

/** The entry with its last field, `end`: the checksum of every byte before it, so that an
 * entry damaged on disk (a bit, a block) is a miss rather than a plan that still parses. */
export function sealEntry(fields: readonly Field[]): Buffer {
  const body = encodeEntry(fields);
  return Buffer.concat([body, Buffer.from(`end 16\n${fnv1a64(body)}\n`)]);
}

/** Fill a template's placeholders (as compiled.c expand does). */
export function expand(template: string, values: Partial<Record<keyof typeof PH, string>>): string {
  let out = template;
  for (const [k, ph] of Object.entries(PH) as [keyof typeof PH, string][]) {
    const v = values[k];
    if (v !== undefined) out = out.split(ph).join(v);
  }
  return out;
}
