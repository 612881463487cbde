// Extended attributes of tar entries, read from the raw bytes of their PAX headers
// (`SCHILY.xattr.<name>=<bytes>` as docker, containerd, buildkit and GNU tar write them;
// `LIBARCHIVE.xattr.<name>=<base64>` from bsdtar). The tar package cannot give them: its PAX
// parser keeps only the keys it knows, and it decodes a header's body as UTF-8 text, so a
// capability's 0x80 byte comes out as U+FFFD.
//
// PaxXattrReader is fed the same bytes as tar's Parser, each chunk before the Parser gets it,
// and walks the same 512-byte blocks. For every entry the Parser will hand on (as 'entry' or
// as 'ignoredEntry'), in the same order, it queues the entry's path and attributes; meta
// headers (`x`, `g`, `L`, `K` and their old forms) are not entries here either. Whoever
// takes an entry compares the path with the Parser's, so a disagreement about where the
// entries are is seen, never an attribute put on another file.
//
// Framing (sizes, paths, which headers count) deliberately copies tar 7's Parser and Header
// (node_modules/tar/dist/esm/parse.js, header.js, pax.js), quirks included: it is tar's view
// of the stream that decides which file gets which bytes. Only the attributes are parsed
// correctly, record by record, in bytes (a value may hold `\n` and NUL).

/** An entry as the Parser will emit it, with the attributes its own `x` headers gave it. */
export interface PaxEntry {
  path: string;
  xattrs: ReadonlyMap<string, Buffer>;
}

/** tar's Parser ignores meta headers larger than this (its maxMetaEntrySize default). */
const MAX_META = 1024 * 1024;
/** Type flags of tar's types.ts, and those of them a PAX/GNU header applies its fields to. */
const KNOWN_TYPES = new Set(['0', '', '1', '2', '3', '4', '5', '6', '7', 'g', 'x', 'A', 'D', 'I', 'K', 'L', 'M', 'N', 'S', 'V', 'X']);
const NORMAL_TYPES = new Set(['0', '', '1', '2', '3', '4', '5', '6', '7', 'D']);
const META_TYPES = new Set(['x', 'X', 'g', 'L', 'N', 'K']);
const NO_XATTRS: ReadonlyMap<string, Buffer> = new Map();

/** PAX fields that move the framing or name the entry, as tar's Pax gives them. */
interface Fields {
  path?: string;
  size?: number;
}

export class PaxXattrReader {
  private readonly queue: PaxEntry[] = [];
  private head = Buffer.alloc(512);
  private headLen = 0;
  /** Bytes of a body (and its padding) to pass over. */
  private skip = 0;
  /** The meta header whose body is being collected, and what is left of it. */
  private meta: { type: string; parts: Buffer[]; left: number; pad: number } | undefined;
  private ex: Fields = {};
  private gex: Fields = {};
  private xattrs = new Map<string, Buffer>();
  private sawNull = false;
  private eof = false;

  /** Feed the next bytes of the plain tar stream (before tar's Parser gets them). */
  write(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length && !this.eof) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - pos);
        this.skip -= n;
        pos += n;
      } else if (this.meta) {
        const m = this.meta;
        const n = Math.min(m.left, chunk.length - pos);
        m.parts.push(Buffer.from(chunk.subarray(pos, pos + n))); // a copy: the chunk is not ours to keep
        m.left -= n;
        pos += n;
        if (m.left === 0) {
          this.meta = undefined;
          this.skip = m.pad;
          this.applyMeta(m.type, Buffer.concat(m.parts));
        }
      } else {
        const n = Math.min(512 - this.headLen, chunk.length - pos);
        chunk.copy(this.head, this.headLen, pos, pos + n);
        this.headLen += n;
        pos += n;
        if (this.headLen === 512) {
          this.headLen = 0;
          this.header(this.head);
        }
      }
    }
  }

  /** The next entry, in the Parser's order; undefined when the reader has none (it could not
   * follow the stream: e.g. data tar's Parser decompresses itself, a gzip inside the gzip). */
  next(): PaxEntry | undefined {
    return this.queue.shift();
  }

  private header(b: Buffer): void {
    let cksum: number | undefined;
    let size: number | undefined;
    try {
      cksum = decNumber(b, 148, 12); // 12, not 8: as tar reads it
      size = decNumber(b, 124, 12);
    } catch {
      return; // tar: an invalid header block (TAR_ENTRY_INVALID), skipped alone
    }
    let sum = 8 * 0x20;
    for (let i = 0; i < 148; i++) sum += b[i]!;
    for (let i = 156; i < 512; i++) sum += b[i]!;
    if (cksum === undefined && sum === 8 * 0x20) {
      if (this.sawNull) this.eof = true; // two null blocks: tar reads no further
      this.sawNull = true;
      return;
    }
    this.sawNull = false;
    if (sum !== cksum) return; // tar warns and skips the block; applyLayer fails on that warning

    const t = decString(b, 156, 1);
    const normal = NORMAL_TYPES.has(t);
    let type = KNOWN_TYPES.has(t) ? t || '0' : 'Unsupported';
    const name = (normal ? this.ex.path : undefined) ?? decString(b, 0, 100);
    if (normal) size = this.ex.size ?? this.gex.size ?? size;
    if (size !== undefined && size < 0) size = undefined;
    if (type === '0' && name.endsWith('/')) type = '5'; // old tars' directories
    if (type === '5') size = 0;
    let path = name;
    if (b.toString('latin1', 257, 265) === 'ustar\u000000') {
      if (b[475] !== 0) path = `${decString(b, 345, 155)}/${path}`;
      else {
        const prefix = decString(b, 345, 130);
        if (prefix) path = `${prefix}/${path}`;
      }
    }
    // The checks tar's Parser makes before it takes a header (each failure a warning that
    // applyLayer makes fatal): it then skips the header block alone.
    const linkpath = decString(b, 157, 100);
    const isLink = type === '1' || type === '2';
    if (!path || (isLink && !linkpath) || (!isLink && type !== 'x' && type !== 'g' && linkpath)) return;

    const body = size ?? 0;
    const blocks = 512 * Math.ceil(body / 512);
    if (META_TYPES.has(type)) {
      if (body > MAX_META) this.skip = blocks; // tar ignores it, fields and all
      else if (body > 0) this.meta = { type, parts: [], left: body, pad: blocks - body };
      return;
    }
    // An entry: ReadEntry takes the path from the PAX/GNU fields, whatever its type.
    const xattrs = this.xattrs;
    if (xattrs.size > 0) this.xattrs = new Map();
    this.queue.push({ path: this.ex.path ?? path, xattrs: xattrs.size > 0 ? xattrs : NO_XATTRS });
    this.ex = {};
    this.skip = blocks;
  }

  private applyMeta(type: string, body: Buffer): void {
    switch (type) {
      case 'x':
      case 'X':
        this.ex = { ...this.ex, ...tarFields(body) };
        for (const [name, value] of xattrsOf(paxRecords(body))) this.xattrs.set(name, value);
        break;
      case 'g':
        // Global attributes are not applied to entries: Go's archive/tar (so containerd and
        // docker) returns a global header as an entry of its own and merges nothing of it.
        this.gex = { ...this.gex, ...tarFields(body) };
        break;
      case 'L':
      case 'N':
        this.ex = { ...this.ex, path: body.toString('utf8').replace(/\0.*/, '') };
        break;
      default: // 'K': a long link target moves nothing
    }
  }
}

/** The records of a PAX header body, in order: `<len> <key>=<value>\n`, where len counts the
 * whole record in bytes. Stops at the first malformed record (what came before is kept). */
export function paxRecords(body: Buffer): [key: string, value: Buffer][] {
  const out: [string, Buffer][] = [];
  let pos = 0;
  while (pos < body.length) {
    let i = pos;
    let len = 0;
    while (i < body.length && i - pos < 10 && body[i]! >= 0x30 && body[i]! <= 0x39) len = len * 10 + body[i++]! - 0x30;
    const end = pos + len;
    if (i === pos || body[i] !== 0x20 || end > body.length || end <= i + 1 || body[end - 1] !== 0x0a) break;
    const eq = body.indexOf(0x3d, i + 1);
    if (eq < 0 || eq >= end) break;
    out.push([body.toString('utf8', i + 1, eq), body.subarray(eq + 1, end - 1)]);
    pos = end;
  }
  return out;
}

const SCHILY = 'SCHILY.xattr.';
const LIBARCHIVE = 'LIBARCHIVE.xattr.';

/** Attribute name -> value from PAX records. A SCHILY record wins over a LIBARCHIVE one of the
 * same name (bsdtar writes both); names that cannot be passed to the kernel are dropped. */
export function xattrsOf(records: [string, Buffer][]): Map<string, Buffer> {
  const schily = new Map<string, Buffer>();
  const libarchive = new Map<string, Buffer>();
  for (const [key, value] of records) {
    if (key.startsWith(SCHILY)) schily.set(key.slice(SCHILY.length), value);
    else if (key.startsWith(LIBARCHIVE)) {
      // libarchive %-escapes the name and writes the value in base64.
      const name = unescapeName(key.slice(LIBARCHIVE.length));
      if (name !== undefined) libarchive.set(name, Buffer.from(value.toString('latin1'), 'base64'));
    }
  }
  const out = new Map<string, Buffer>();
  for (const [name, value] of [...libarchive, ...schily]) {
    if (name !== '' && !name.includes('\0')) out.set(name, value);
  }
  return out;
}

function unescapeName(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined; // a lone `%` or bytes that are not UTF-8: not a name we could set
  }
}

/** What applyLayer does with an attribute, as containerd and podman do: file capabilities,
 * user.* and trusted.* must be set; the SELinux label is the container's to decide, never the
 * image's; anything else (other security modules' attributes, ACLs) is set where possible.
 * overlayfs's own attributes are never taken from an image: an unpacked tree is the lower layer
 * of `run --image`'s overlay, where planted redirects or opaque marks would change what the
 * container sees. */
export function xattrPolicy(name: string): 'required' | 'optional' | 'skip' {
  if (name === 'security.selinux' || name.startsWith('trusted.overlay.') || name.startsWith('user.overlay.')) return 'skip';
  if (name === 'security.capability' || name.startsWith('user.') || name.startsWith('trusted.')) return 'required';
  return 'optional';
}

/** tar's Pax.parse, for the fields that matter here: line by line (a value holding `\n` makes
 * tar drop that record), the length checked against the line's UTF-8 bytes. */
function tarFields(body: Buffer): Fields {
  const out: Fields = {};
  for (const line of body.toString('utf8').replace(/\n$/, '').split('\n')) {
    const n = parseInt(line, 10);
    if (n !== Buffer.byteLength(line) + 1) continue;
    const kv = line.slice(`${n} `.length).split('=');
    const k = kv.shift();
    const v = kv.join('=').replace(/\0.*/, '');
    if (k === 'path') out.path = v;
    else if (k === 'size' && +v >= 0) out.size = +v;
  }
  return out;
}

/** tar's decString: UTF-8, cut at the first NUL. */
function decString(b: Buffer, off: number, size: number): string {
  return b.toString('utf8', off, off + size).replace(/\0.*/, '');
}

/** tar's decNumber: octal text, or GNU base-256 (high bit set; 0xff: negative). Throws where
 * tar's does (the header is then invalid). */
function decNumber(b: Buffer, off: number, size: number): number | undefined {
  const f = b.subarray(off, off + size);
  if (f[0]! & 0x80) {
    if (f[0] === 0xff) return -1; // two's complement: negative, which no size may be
    if (f[0] !== 0x80) throw new Error('invalid base-256 number');
    let v = 0;
    for (let i = 1; i < f.length; i++) v = v * 256 + f[i]!;
    if (!Number.isSafeInteger(v)) throw new Error('base-256 number out of range');
    return v;
  }
  const v = parseInt(f.toString('utf8').replace(/\0.*$/, '').trim(), 8);
  return Number.isNaN(v) ? undefined : v;
}
