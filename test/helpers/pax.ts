// Raw tar pieces the tar package will not write: PAX headers with binary extended attributes
// (`SCHILY.xattr.*`), GNU long-name (`L`) headers, global headers. Blocks are encoded with the
// package's Header (a meta type is just a type flag to it); bodies are built here byte by byte.
import { Header, type HeaderData } from 'tar';

const T0 = new Date('2020-01-02T03:04:05Z');

/** One PAX record, `<len> <key>=<value>\n`, len counting the whole record in bytes. */
export function paxRecord(key: string, value: string | Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len++;
  return Buffer.concat([Buffer.from(String(len)), rest]);
}

/** PAX records from pairs, in order (a key may repeat). */
export const paxBody = (records: [string, string | Buffer][]): Buffer => Buffer.concat(records.map(([k, v]) => paxRecord(k, v)));

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);

/** A header block and its padded body. `path` is what goes in the header itself, cut to fit
 * when it is too long (the PAX or `L` header before it carries the real one). */
export function tarBlock(
  type: NonNullable<HeaderData['type']>, path: string, body: Buffer = Buffer.alloc(0), opts: { mode?: number; uid?: number; linkpath?: string; size?: number } = {},
): Buffer {
  const h = new Header({
    path, type, size: opts.size ?? body.length, mode: opts.mode ?? (type === 'Directory' ? 0o755 : 0o644), uid: opts.uid ?? 0, gid: opts.uid ?? 0,
    mtime: T0, linkpath: opts.linkpath, uname: '', gname: '',
  });
  const block = Buffer.alloc(512);
  h.encode(block, 0); // needPax is the caller's business here
  return Buffer.concat([block, body, pad(body.length)]);
}

/** An `x` (or `g`) header carrying these records. */
export const paxHeader = (records: [string, string | Buffer][], type: 'ExtendedHeader' | 'GlobalExtendedHeader' = 'ExtendedHeader') =>
  tarBlock(type, type === 'ExtendedHeader' ? 'PaxHeader/x' : 'pax_global_header', paxBody(records));

/** GNU's `L` header: the next entry's full name, NUL-terminated. */
export const longNameHeader = (name: string) => tarBlock('NextFileHasLongPath', '././@LongLink', Buffer.from(`${name}\0`));

export const END_OF_ARCHIVE = Buffer.alloc(1024);

/** vfs_cap_data revision 2 (linux/capability.h): magic with the effective bit, then the
 * permitted and inheritable words of both halves, little-endian. `=ep` for these bits. */
export function fileCaps(...bits: number[]): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt32LE(0x02000000 | 0x1, 0);
  for (const bit of bits) {
    const off = bit < 32 ? 4 : 12;
    b.writeUInt32LE((b.readUInt32LE(off) | (1 << (bit % 32))) >>> 0, off);
  }
  return b;
}
export const CAP_SETUID = 7;
export const CAP_NET_RAW = 13;
