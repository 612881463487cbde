// A file tree as sorted text lines, one per path, so that two unpacked root filesystems (from
// two image formats, or from launch and from a reference tool) can be compared with toEqual
// and a failure shows exactly which paths differ and how.
//
// What is in a line: what a container can observe and an unpacker must get right - type,
// permission bits (setuid/setgid/sticky too), owner, symlink target, content hash and size,
// hard-link grouping, and the mtime of everything but directories. Directory mtimes are left
// out: adding an entry changes its directory's mtime, so they depend on unpacking order.
import { createHash } from 'node:crypto';
import { lstatSync, readFileSync, readdirSync, readlinkSync, type Stats } from 'node:fs';
import { join } from 'node:path';

/** How owners are shown:
 * - 'raw': the host ids, as lstat gives them;
 * - a subordinate range: for a tree unpacked rootless through a user namespace that maps
 *   container id 0 to the caller (`uid`/`gid`, default this process's) and ids 1..N to
 *   base..base+N-1, the container ids; a host id in neither is shown as `host:ID`;
 * - a function from a host id to what to show. */
export type IdView =
  | 'raw'
  | { uidBase: number; gidBase: number; uid?: number; gid?: number }
  | ((kind: 'uid' | 'gid', hostId: number) => number | string);

export interface TreeOptions {
  ids?: IdView;
}

/** The function an IdView stands for. */
export function idMapper(view: IdView): (kind: 'uid' | 'gid', id: number) => number | string {
  if (view === 'raw') return (_kind, id) => id;
  if (typeof view === 'function') return view;
  const own = { uid: view.uid ?? process.getuid!(), gid: view.gid ?? process.getgid!() };
  const base = { uid: view.uidBase, gid: view.gidBase };
  return (kind, id) => (id === own[kind] ? 0 : id >= base[kind] ? id - base[kind] + 1 : `host:${id}`);
}

function typeOf(st: Stats): string {
  if (st.isFile()) return 'file';
  if (st.isDirectory()) return 'dir';
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isFIFO()) return 'fifo';
  if (st.isCharacterDevice()) return 'char';
  if (st.isBlockDevice()) return 'block';
  if (st.isSocket()) return 'socket';
  return 'unknown';
}

/** Paths with spaces or unusual bytes are quoted, so the first field is always the path. */
const show = (s: string) => (/^[\x21-\x7e]+$/.test(s) && !s.startsWith('"') ? s : JSON.stringify(s));

/** Every path under `root` (not `root` itself: its metadata is the caller's), relative,
 * depth first, as lines sorted by path. */
export function treeManifest(root: string, opts: TreeOptions = {}): string[] {
  const id = idMapper(opts.ids ?? 'raw');
  const found: { rel: string; st: Stats }[] = [];
  const problems: string[] = [];
  const walk = (rel: string) => {
    let names: string[];
    try {
      names = readdirSync(rel === '' ? root : join(root, rel));
    } catch (err) {
      problems.push(`${show(rel)} unreadable-dir ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
      return;
    }
    for (const name of names) {
      const child = rel === '' ? name : `${rel}/${name}`;
      const st = lstatSync(join(root, child));
      found.push({ rel: child, st });
      if (st.isDirectory()) walk(child);
    }
  };
  walk('');

  // Hard links: every path of an inode with more than one name in this tree names the
  // lexically first one, so the grouping does not depend on readdir order.
  const byInode = new Map<string, string[]>();
  for (const { rel, st } of found) {
    if (st.isDirectory() || st.nlink < 2) continue;
    const key = `${st.dev}:${st.ino}`;
    byInode.set(key, [...(byInode.get(key) ?? []), rel]);
  }

  const lines = found.map(({ rel, st }) => {
    const type = typeOf(st);
    const fields = [show(rel), type, (st.mode & 0o7777).toString(8).padStart(4, '0'), `${id('uid', st.uid)}:${id('gid', st.gid)}`];
    if (type === 'file') {
      let hash: string;
      try {
        hash = createHash('sha256').update(readFileSync(join(root, rel))).digest('hex');
      } catch (err) {
        hash = `unreadable(${(err as NodeJS.ErrnoException).code ?? String(err)})`;
      }
      fields.push(`size=${st.size}`, `sha256=${hash}`);
    }
    if (type === 'symlink') fields.push(`-> ${show(readlinkSync(join(root, rel)))}`);
    if (type === 'char' || type === 'block') fields.push(`dev=${Math.floor(st.rdev / 256) & 0xfff}:${(st.rdev & 0xff) | ((st.rdev >> 12) & 0xfff00)}`);
    if (type !== 'dir') fields.push(`mtime=${Math.floor(st.mtimeMs / 1000)}`);
    const group = st.isDirectory() ? undefined : byInode.get(`${st.dev}:${st.ino}`);
    if (group && group.length > 1) fields.push(`hardlink=${show([...group].sort(byCodeUnit)[0]!)}`);
    return fields.join(' ');
  });
  return [...lines, ...problems].sort(byCodeUnit);
}

/** Plain code-unit order: the same on every machine, unlike localeCompare. */
function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The path field of a manifest line. */
function pathOf(line: string): string {
  return /^("(?:[^"\\]|\\.)*"|\S+)/.exec(line)?.[1] ?? line;
}

/** What differs between two manifests, path by path, for a failure message: `-` lines are
 * `a`'s, `+` lines `b`'s. Empty when they are the same. */
export function diffManifests(a: string[], b: string[], names: [string, string] = ['a', 'b']): string {
  const index = (lines: string[]) => {
    const m = new Map<string, string[]>();
    for (const l of lines) m.set(pathOf(l), [...(m.get(pathOf(l)) ?? []), l]);
    return m;
  };
  const ia = index(a);
  const ib = index(b);
  const paths = [...new Set([...ia.keys(), ...ib.keys()])].sort(byCodeUnit);
  const out: string[] = [];
  let differing = 0;
  for (const p of paths) {
    const la = ia.get(p) ?? [];
    const lb = ib.get(p) ?? [];
    if (la.join('\n') === lb.join('\n')) continue;
    differing++;
    for (const l of la) out.push(`- ${l}`);
    for (const l of lb) out.push(`+ ${l}`);
  }
  if (differing === 0) return '';
  return [`${differing} path(s) differ (- ${names[0]}, + ${names[1]}):`, ...out].join('\n');
}
