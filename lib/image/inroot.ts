// Path resolution and removal inside a root filesystem being unpacked, never touching anything
// outside it. Used by unpack.ts; knows nothing about tar.
//
// Symbolic links in the *parent* path of an entry are followed, but scoped to the root, as the
// kernel's openat2(RESOLVE_IN_ROOT) does and as containerd (fs.RootPath) and umoci (securejoin)
// do: an absolute target restarts at the root and `..` stops at it. So `a -> /etc` then
// `a/passwd` writes <root>/etc/passwd, never the host's. The final component of an entry is
// never followed (it is replaced). Real images need the following: a layer built by a tool that
// writes tar files directly may put `lib/x.so` over a merged-usr base where `lib -> usr/lib`.
//
// Only this process writes into the root while a layer is applied (it is a bundle directory
// being built, not a running container's), so a component checked with lstat stays what it
// was when the next call uses it; that is the assumption that makes path walking safe here
// without openat2 (which Node does not expose).
import { chmodSync, lstatSync, mkdirSync, readdirSync, readlinkSync, rmdirSync, unlinkSync, type Stats } from 'node:fs';

/** The kernel's limit (MAXSYMLINKS): a loop of links is an error, not a hang. */
const MAX_SYMLINKS = 40;

/** A path that cannot be resolved inside the root; unpack.ts names the entry. */
export class ResolveError extends Error {
  constructor(
    readonly reason: 'notdir' | 'loop',
    /** The offending component, relative to the root. */
    readonly at: string,
  ) {
    super(reason === 'loop' ? 'too many levels of symbolic links' : 'not a directory');
  }
}

/** A tar entry name as components relative to the root, `.` and `..` applied lexically (as
 * docker's filepath.Clean does before anything touches the disk), or undefined when `..`
 * climbs above the root. A leading `/` is dropped: absolute names are relative to the root. */
export function entryComponents(name: string): string[] | undefined {
  const out: string[] = [];
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (out.length === 0) return undefined;
      out.pop();
    } else {
      out.push(c);
    }
  }
  return out;
}

export const joinRel = (dir: string, name: string) => (dir === '' ? name : `${dir}/${name}`);
export const parentRel = (rel: string) => rel.slice(0, Math.max(0, rel.lastIndexOf('/')));
const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code;

/** One root filesystem during one layer. Paths called `rel` are real paths (no symlinks in
 * them) relative to the root, '' for the root itself. */
export class InRoot {
  /** Entry parent path as written in the layer -> its resolved rel. Only existing directories
   * are cached, and only a removal can change what they resolve to (creating something never
   * changes how an existing path resolves): every unlink/rmdir clears it. */
  private readonly cache = new Map<string, string>();
  /** Directories this unpack opened up (u+rwx) to work in as an ordinary user, with the mode
   * to put back at the end. Root and root-in-a-user-namespace never need this (DAC override);
   * an ordinary user does, for a lower layer's 0555 /usr/bin (Fedora) or a 0700 dir. */
  readonly opened = new Map<string, number>();

  constructor(
    readonly root: string,
    private readonly rootless: boolean,
  ) {}

  abs(rel: string): string {
    return rel === '' ? this.root : `${this.root}/${rel}`;
  }

  /** lstat, undefined when absent (without an exception: most entries are new files). */
  lstat(rel: string): Stats | undefined {
    return this.withAccess(parentRel(rel), () => lstatSync(this.abs(rel), { throwIfNoEntry: false }));
  }

  /** Resolves directory components as RESOLVE_IN_ROOT would. Missing components are created
   * when `create` (see mkdirImplicit), else the result is undefined. Throws ResolveError for a
   * non-directory in the way or a symlink loop. */
  dir(parts: string[], create: boolean): string | undefined {
    const key = parts.join('/');
    const hit = this.cache.get(key);
    if (hit !== undefined) return hit;
    const real: string[] = [];
    const todo = parts.slice().reverse(); // a stack: symlink targets are pushed in front
    let links = 0;
    while (todo.length > 0) {
      const c = todo.pop()!;
      if (c === '' || c === '.') continue;
      if (c === '..') {
        real.pop(); // stops at the root: this is what keeps a symlink's `..` inside
        continue;
      }
      real.push(c);
      const rel = real.join('/');
      const st = this.lstat(rel);
      if (!st) {
        if (!create) return undefined;
        this.mkdirImplicit(rel);
        continue;
      }
      if (st.isDirectory()) continue;
      if (st.isSymbolicLink()) {
        if (++links > MAX_SYMLINKS) throw new ResolveError('loop', rel);
        const target = readlinkSync(this.abs(rel));
        real.pop();
        if (target.startsWith('/')) real.length = 0;
        const more = target.split('/');
        for (let i = more.length - 1; i >= 0; i--) todo.push(more[i]!);
        continue;
      }
      throw new ResolveError('notdir', rel);
    }
    const out = real.join('/');
    this.cache.set(key, out);
    return out;
  }

  /** A parent the layer did not list: 0755 as docker and containerd make them (chmod, so the
   * result does not depend on our umask). */
  private mkdirImplicit(rel: string): void {
    this.withAccess(parentRel(rel), () => mkdirSync(this.abs(rel), 0o755));
    chmodSync(this.abs(rel), 0o755);
  }

  /** Runs `fn`, which works inside the directory `dirRel`; on EACCES as an ordinary user, gives
   * ourselves u+rwx on that directory (remembering its mode) and runs it once more. */
  withAccess<T>(dirRel: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      if (errCode(err) !== 'EACCES' || !this.openUp(dirRel)) throw err;
      return fn();
    }
  }

  private openUp(rel: string): boolean {
    if (!this.rootless || this.opened.has(rel)) return false;
    try {
      const st = lstatSync(this.abs(rel));
      if (!st.isDirectory()) return false;
      chmodSync(this.abs(rel), (st.mode & 0o7777) | 0o700);
      this.opened.set(rel, st.mode & 0o7777);
      return true;
    } catch {
      return false; // not ours (EPERM) or unreachable: the caller reports its own EACCES
    }
  }

  /** Removes `rel` (never following a symlink there) except what `keep` lists (paths this layer
   * wrote) and the directories holding them. Returns whether anything was kept. */
  prune(rel: string, keep?: ReadonlySet<string>): boolean {
    if (rel === '') throw new Error('prune: refusing to remove the root'); // a bug if reached
    const st = this.lstat(rel);
    if (!st) return false;
    if (st.isDirectory()) {
      const kept = this.pruneChildren(rel, keep) || keep?.has(rel) === true;
      if (kept) return true;
      this.cache.clear();
      this.withAccess(parentRel(rel), () => rmdirSync(this.abs(rel)));
      this.opened.delete(rel);
      return false;
    }
    if (keep?.has(rel)) return true;
    this.cache.clear();
    this.withAccess(parentRel(rel), () => unlinkSync(this.abs(rel)));
    return false;
  }

  /** prune() for everything inside the directory `rel` (an opaque directory). */
  pruneChildren(rel: string, keep?: ReadonlySet<string>): boolean {
    let kept = false;
    for (const name of this.withAccess(rel, () => readdirSync(this.abs(rel)))) {
      if (this.prune(joinRel(rel, name), keep)) kept = true;
    }
    return kept;
  }

  /** Whether `rel` is still a real directory reached through real directories only, so a
   * deferred chmod/utimes on it cannot land outside (a later entry may have replaced one of
   * its parents by a symlink). */
  isRealDir(rel: string): boolean {
    let cur = '';
    for (const c of rel === '' ? [] : rel.split('/')) {
      cur = joinRel(cur, c);
      const st = this.lstat(cur);
      if (!st || !st.isDirectory()) return false;
    }
    return true;
  }
}
