// lib/image/pax-xattrs.ts: PAX records parsed in bytes, the xattr keys picked out of them, and
// the reader that walks a tar stream in step with tar's Parser. The step is checked the only
// way that matters: the reader's entries (paths) equal the Parser's entries and ignored
// entries, for archives from GNU tar, from the tar package, and crafted ones, fed whole, in
// 1-byte chunks and in odd-sized chunks.
//
// How these were checked to fail: META_TYPES without 'L' (GNU long names counted as
// entries), the PAX `size` ignored, the ustar prefix ignored, the value parsed up to the first
// `\n` instead of by length: each made the named tests fail.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, linkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Parser, type ReadEntry, c as tarCreate } from 'tar';
import { PaxXattrReader, paxRecords, xattrPolicy, xattrsOf, type PaxEntry } from '../../lib/image/pax-xattrs.js';
import { native } from '../../lib/runtime/native.js';
import { END_OF_ARCHIVE, longNameHeader, paxBody, paxHeader, paxRecord, tarBlock } from '../helpers/pax.js';

const tmp = mkdtempSync(join(tmpdir(), 'launch-pax-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const BINARY = Buffer.from([0x00, 0x0a, 0x80, 0xff, 0x3d, 0x20, 0x0a, 0x31, 0x30, 0x20]); // NUL, \n, 0x80, '=', "\n10 "

/** What tar's Parser emits: entries and (non-meta) ignored entries, by path, in order. */
async function parserPaths(tar: Buffer, chunk: number): Promise<string[]> {
  const out: string[] = [];
  const p = new Parser({ zstd: false, brotli: false });
  p.on('entry', (e: ReadEntry) => {
    out.push(e.path);
    e.resume();
  });
  p.on('ignoredEntry', (e: ReadEntry) => {
    if (!e.meta) out.push(e.path);
  });
  const warnings: string[] = [];
  p.on('warn', (code: string) => warnings.push(code));
  const ended = new Promise((resolve) => p.on('end', resolve));
  for (let off = 0; off < tar.length; off += chunk) p.write(tar.subarray(off, off + chunk));
  p.end();
  await ended;
  expect(warnings).toEqual([]);
  return out;
}

function readerEntries(tar: Buffer, chunk: number): PaxEntry[] {
  const r = new PaxXattrReader();
  for (let off = 0; off < tar.length; off += chunk) r.write(tar.subarray(off, off + chunk));
  const out: PaxEntry[] = [];
  for (let e = r.next(); e; e = r.next()) out.push(e);
  return out;
}

/** The reader's entries, after checking that they are the Parser's at several chunkings. */
async function inStep(tar: Buffer): Promise<PaxEntry[]> {
  const want = await parserPaths(tar, 65536);
  for (const chunk of [tar.length, 1, 7, 511, 513, 4096]) {
    const got = readerEntries(tar, chunk);
    expect(got.map((e) => e.path), `chunks of ${chunk}`).toEqual(want);
    expect(await parserPaths(tar, chunk)).toEqual(want);
  }
  return readerEntries(tar, 100);
}

const attrs = (e: PaxEntry | undefined) => Object.fromEntries([...(e?.xattrs ?? [])].map(([k, v]) => [k, v.toString('hex')]));

describe('paxRecords', () => {
  it('takes each record by its length in bytes, values holding newlines, NULs, `=` and bytes >= 0x80', () => {
    const body = paxBody([['path', 'dïr/fïle'], ['SCHILY.xattr.user.bin', BINARY], ['SCHILY.xattr.security.capability', Buffer.from([1, 0, 0, 2, 0x80])]]);
    expect(paxRecords(body)).toEqual([
      ['path', Buffer.from('dïr/fïle')],
      ['SCHILY.xattr.user.bin', BINARY],
      ['SCHILY.xattr.security.capability', Buffer.from([1, 0, 0, 2, 0x80])],
    ]);
    expect(paxRecord('a', 'b').toString()).toBe('6 a=b\n');
    expect(paxRecord('k', 'x'.repeat(5)).toString()).toBe('11 k=xxxxx\n'); // the length counts its own digits
  });

  it('stops at a malformed record and keeps those before it', () => {
    const good = paxRecord('SCHILY.xattr.user.a', '1');
    for (const bad of ['99 SCHILY.xattr.user.b=2\n', 'x3 a=b\n', '7 a=b\nX', '5 ab\n', '6 a=b!', ' 6 a=b\n']) {
      expect(paxRecords(Buffer.concat([good, Buffer.from(bad), good])), bad).toEqual([['SCHILY.xattr.user.a', Buffer.from('1')]]);
    }
    expect(paxRecords(Buffer.alloc(0))).toEqual([]);
  });
});

describe('xattrsOf and xattrPolicy', () => {
  it('SCHILY values as they are, LIBARCHIVE ones from base64 with %-escaped names; SCHILY wins', () => {
    const got = xattrsOf([
      ['path', Buffer.from('x')],
      ['LIBARCHIVE.xattr.user.same', Buffer.from(Buffer.from('from libarchive').toString('base64'))],
      ['SCHILY.xattr.user.same', Buffer.from('from schily')],
      ['LIBARCHIVE.xattr.user.a%3Db%20c', Buffer.from(BINARY.toString('base64'))],
      ['LIBARCHIVE.xattr.user.bad%', Buffer.from('AA==')],
      ['SCHILY.xattr.', Buffer.from('no name')],
      ['SCHILY.xattr.user.nul\0', Buffer.from('cut short by C')],
      ['SCHILY.xattr.user.later', Buffer.from('1')],
      ['SCHILY.xattr.user.later', Buffer.from('2')],
    ]);
    expect(Object.fromEntries([...got].map(([k, v]) => [k, v.toString('latin1')]))).toEqual({
      'user.same': 'from schily',
      'user.a=b c': BINARY.toString('latin1'),
      'user.later': '2',
    });
  });

  it('capabilities, user.* and trusted.* are required; the SELinux label and overlayfs\'s own skipped; the rest tried', () => {
    const names = ['security.capability', 'user.x', 'trusted.x', 'trusted.overlay.opaque', 'user.overlay.redirect', 'security.selinux', 'security.ima', 'system.posix_acl_access'];
    expect(names.map(xattrPolicy)).toEqual(['required', 'required', 'required', 'skip', 'skip', 'skip', 'optional', 'optional']);
  });
});

describe('PaxXattrReader in step with tar\'s Parser', () => {
  it('crafted: PAX paths and sizes, GNU long names, global headers, ignored types, a ustar prefix, base-256', async () => {
    const long = `${'d'.repeat(120)}/${'f'.repeat(130)}`;
    const gnuLong = `${'g'.repeat(200)}/file`;
    const big = Buffer.alloc(700, 1);
    const base256 = tarBlock('File', 'b256', big);
    base256.fill(0, 124, 136); // the size as GNU base-256, then the checksum again
    base256[124] = 0x80;
    base256.writeUInt16BE(700, 134);
    base256.fill(0x20, 148, 156);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += base256[i]!;
    base256.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'latin1');
    const phantom = Buffer.concat([tarBlock('File', 'phantom'), Buffer.alloc(488, 2)]);
    const prefixed = tarBlock('File', `${'p'.repeat(90)}/${'q'.repeat(90)}`, Buffer.from('q'));
    const tar = Buffer.concat([
      paxHeader([['SCHILY.xattr.user.a', '1']]), tarBlock('File', 'a', Buffer.from('a')),
      paxHeader([['path', long], ['SCHILY.xattr.user.long', BINARY]]), tarBlock('File', long.slice(0, 99), Buffer.from('long')),
      tarBlock('Directory', 'plain/'),
      // Two PAX headers and an L for one entry: later records win, the L gives the path.
      paxHeader([['SCHILY.xattr.user.one', 'x'], ['SCHILY.xattr.user.two', 'x']]),
      paxHeader([['SCHILY.xattr.user.two', 'y']]),
      longNameHeader(gnuLong), tarBlock('SymbolicLink', gnuLong.slice(0, 99), undefined, { linkpath: 'a' }),
      // A global header's attributes are not any entry's (as in Go's archive/tar).
      paxHeader([['SCHILY.xattr.user.global', 'g'], ['comment', 'hi']], 'GlobalExtendedHeader'),
      tarBlock('File', 'after-global', Buffer.from('x')),
      // The PAX size beats the header's (here a lie of 0): 1000 bytes of body follow, a tar
      // header among them, which must stay file data.
      paxHeader([['size', '1000'], ['SCHILY.xattr.user.sized', 's']]), tarBlock('File', 'sized', phantom, { size: 0 }),
      paxHeader([['SCHILY.xattr.user.ignored', 'i']]), tarBlock('SparseFile', 'sparse', Buffer.alloc(600)),
      base256, prefixed,
      // A value with `\n` in it: tar's own line-by-line parse drops it, the path record stays.
      paxHeader([['SCHILY.xattr.user.nl', 'a\nb'], ['path', 'newline-neighbour']]), tarBlock('File', 'nn', Buffer.from('n')),
      tarBlock('File', 'last'),
      END_OF_ARCHIVE,
      tarBlock('File', 'after-the-end'), // tar reads no further than two null blocks
    ]);
    const got = await inStep(tar);
    expect(got.map((e) => e.path)).toEqual([
      'a', long, 'plain/', gnuLong, 'after-global', 'sized', 'sparse', 'b256', `${'p'.repeat(90)}/${'q'.repeat(90)}`, 'newline-neighbour', 'last',
    ]);
    expect(got.map(attrs)).toEqual([
      { 'user.a': '31' }, { 'user.long': BINARY.toString('hex') }, {}, { 'user.one': '78', 'user.two': '79' }, {}, { 'user.sized': '73' },
      { 'user.ignored': '69' }, {}, {}, { 'user.nl': '610a62' }, {},
    ]);
  });

  it('the tar package\'s own archives (PAX headers for long names and big ids)', async () => {
    const src = join(tmp, 'pkg');
    const deep = join(src, 'x'.repeat(80), 'y'.repeat(80), 'z'.repeat(80));
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, `${'n'.repeat(150)}`), 'deep');
    writeFileSync(join(src, 'small'), Buffer.alloc(2000, 3));
    symlinkSync('x'.repeat(120), join(src, 'longlink'));
    const file = join(tmp, 'pkg.tar');
    await tarCreate({ cwd: src, file, portable: true }, ['.']);
    const got = await inStep(readFileSync(file));
    expect(got.length).toBe(7); // ./ and six under it
    expect(got.every((e) => e.xattrs.size === 0)).toBe(true);
  });

  it('GNU tar --xattrs (posix format), with long names and hard links, and --format=gnu', async () => {
    const src = join(tmp, 'gnu');
    const long = join(src, 'l'.repeat(150));
    mkdirSync(long, { recursive: true });
    writeFileSync(join(long, 'f'.repeat(120)), 'f');
    writeFileSync(join(src, 'attr'), 'a');
    linkSync(join(src, 'attr'), join(src, 'hard'));
    expect(native().lsetxattr(join(src, 'attr'), 'user.bin', BINARY)).toBe(0);
    expect(native().lsetxattr(long, 'user.dir', Buffer.from('on a dir'))).toBe(0);
    const posix = join(tmp, 'posix.tar');
    execFileSync('tar', ['--xattrs', '--xattrs-include=user.*', '--format=posix', '--sort=name', '-cf', posix, '-C', src, '.']);
    const got = await inStep(readFileSync(posix));
    const by = new Map(got.map((e) => [e.path, attrs(e)]));
    expect(by.get('./attr')).toEqual({ 'user.bin': BINARY.toString('hex') });
    expect(by.get(`./${'l'.repeat(150)}/`)).toEqual({ 'user.dir': Buffer.from('on a dir').toString('hex') });
    expect(by.get(`./${'l'.repeat(150)}/${'f'.repeat(120)}`)).toEqual({});
    expect(got.length).toBe(5); // ./, attr, hard, the directory, its file
    const gnu = join(tmp, 'gnu.tar');
    execFileSync('tar', ['--format=gnu', '--sort=name', '-cf', gnu, '-C', src, '.']);
    expect((await inStep(readFileSync(gnu))).map((e) => e.path)).toEqual(got.map((e) => e.path));
  });
});
