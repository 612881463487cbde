// The local image store: an OCI image layout (image-spec image-layout.md) under
// $XDG_DATA_HOME/launch (rootless) or /var/lib/launch (root), so any OCI tool can read it
// (`skopeo copy oci:$STORE/images:docker.io/library/busybox:latest ...`). Beside the layout:
//   partial/<alg>-<hex>   blobs being downloaded (kept across an interrupted pull: resumed)
//   rootfs/<hex>/         unpacked root filesystems, by config digest (lib/image/cache.ts)
//   tmp/                  work files, removed when done
//   lock                  the pid of the launch that changes the store now
// Blobs land in blobs/ only once verified, by rename, and index.json is replaced by rename:
// a store is never half-written, whatever kills launch.
import { closeSync, constants as fsc, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { LaunchError, fromNodeError, hostError } from '../errors.js';
import { isObject } from './config.js';
import { blobPath, type Digest } from './digest.js';
import { REF_NAME } from './layout.js';
import { DirStore, imageError } from './store.js';
import type { Descriptor } from './types.js';

export interface StoreEnv {
  uid: number;
  env?: NodeJS.ProcessEnv;
}

/** Where images live: --store, then $LAUNCH_STORE, then the XDG data dir (rootless) or
 * /var/lib/launch (root), as podman's storage paths. */
export function defaultStoreRoot(o: StoreEnv): string {
  const env = o.env ?? process.env;
  if (env.LAUNCH_STORE) return env.LAUNCH_STORE;
  if (o.uid === 0) return '/var/lib/launch';
  const data = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local/share');
  return join(data, 'launch');
}

export interface StoredImage {
  /** The reference it was stored by, canonical (docker.io/library/busybox:latest). */
  name: string;
  manifest: Descriptor;
}

const LOCK_WAIT_MS = 10 * 60_000;

/** Whether the process `pid` exists (EPERM: it does, as another user's). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class LocalStore {
  readonly images: string;
  private constructor(readonly root: string) {
    this.images = join(root, 'images');
  }

  /** Open (and on first use create) the store at `root`. Only its owner may use it: its
   * blobs become root filesystems. */
  static open(root: string): LocalStore {
    const s = new LocalStore(root);
    try {
      for (const d of [root, s.images, join(s.images, 'blobs/sha256'), join(root, 'partial'), join(root, 'rootfs'), join(root, 'tmp')]) {
        mkdirSync(d, { recursive: true, mode: 0o700 });
      }
      const st = statSync(root);
      const uid = process.getuid?.() ?? 0;
      if (st.uid !== uid) throw hostError(`the image store belongs to uid ${st.uid}, not to you (uid ${uid}):`, { code: 'STORE_OWNER', file: root });
      s.writeIfMissing('oci-layout', '{"imageLayoutVersion":"1.0.0"}');
      s.writeIfMissing('index.json', '{"schemaVersion":2,"manifests":[]}');
    } catch (err) {
      if (err instanceof LaunchError) throw err;
      throw fromNodeError('host', 'cannot open the image store', err, { code: 'STORE_OPEN', file: root });
    }
    return s;
  }

  private writeIfMissing(name: string, text: string): void {
    try {
      writeFileSync(join(this.images, name), `${text}\n`, { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
  }

  /** The layout as a BlobStore, for readLayout(). */
  blobStore(): DirStore {
    return new DirStore(this.images);
  }

  blobFile(d: Digest): string {
    return join(this.images, blobPath(d));
  }

  partialFile(d: Digest): string {
    return join(this.root, 'partial', `${d.algorithm}-${d.hex}`);
  }

  tmpPath(what: string): string {
    return join(this.root, 'tmp', `${what}-${process.pid}-${Math.random().toString(36).slice(2, 8)}`);
  }

  /** Whether the verified blob is here, with its declared size. */
  has(d: Digest, size?: number): boolean {
    try {
      const st = statSync(this.blobFile(d));
      return st.isFile() && (size === undefined || st.size === size);
    } catch {
      return false;
    }
  }

  /** Move a verified file into blobs/. */
  commit(file: string, d: Digest): void {
    try {
      renameSync(file, this.blobFile(d));
    } catch (err) {
      throw fromNodeError('host', 'cannot store blob', err, { code: 'STORE_WRITE', file: this.blobFile(d) });
    }
  }

  /** Store a small verified blob (a manifest, a config) held in memory. */
  put(data: Buffer, d: Digest): void {
    if (this.has(d, data.length)) return;
    const tmp = this.tmpPath('blob');
    writeFileSync(tmp, data, { mode: 0o600 });
    this.commit(tmp, d);
  }

  /** The entries of index.json; each must carry a ref.name (launch writes no others). */
  list(): StoredImage[] {
    const file = join(this.images, 'index.json');
    let doc: unknown;
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'));
    } catch (err) {
      throw fromNodeError('host', 'cannot read the image store\'s index', err, { code: 'STORE_INDEX', file });
    }
    if (!isObject(doc) || !Array.isArray(doc.manifests)) throw imageError('host', 'STORE_INDEX', 'index.json: manifests must be a list', this.images);
    return (doc.manifests as Descriptor[])
      .filter((m) => isObject(m) && typeof m.annotations?.[REF_NAME] === 'string')
      .map((m) => ({ name: m.annotations![REF_NAME]!, manifest: m }));
  }

  private writeIndex(images: StoredImage[]): void {
    const manifests = images.map((i) => ({ ...i.manifest, annotations: { ...i.manifest.annotations, [REF_NAME]: i.name } }));
    const tmp = this.tmpPath('index');
    writeFileSync(tmp, `${JSON.stringify({ schemaVersion: 2, manifests }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, join(this.images, 'index.json'));
  }

  /** Point `name` at `manifest` (replacing what it named before). Call under lock(). */
  tag(name: string, manifest: Descriptor): void {
    const rest = this.list().filter((i) => i.name !== name);
    const { annotations: _drop, ...desc } = manifest;
    this.writeIndex([...rest, { name, manifest: desc }]);
  }

  /** Drop `name`; false when it was not there. Call under lock(). */
  untag(name: string): boolean {
    const all = this.list();
    const rest = all.filter((i) => i.name !== name);
    if (rest.length === all.length) return false;
    this.writeIndex(rest);
    return true;
  }

  /** Run `fn` holding the store's lock: one launch at a time changes blobs and index.json (two
   * pulls of one blob would append to the same partial file). A lock whose holder died is
   * taken over; a live holder is waited for. */
  async lock<T>(fn: () => Promise<T>, onWait?: (pid: number) => void): Promise<T> {
    const file = join(this.root, 'lock');
    const deadline = Date.now() + LOCK_WAIT_MS;
    let told = false;
    for (;;) {
      try {
        const fd = openSync(file, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
        writeSync(fd, String(process.pid));
        closeSync(fd);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw fromNodeError('host', 'cannot lock the image store', err, { code: 'STORE_LOCK', file });
      }
      let holder = NaN;
      try {
        holder = Number(readFileSync(file, 'utf8'));
      } catch {
        continue; // released meanwhile
      }
      if (!Number.isSafeInteger(holder) || holder <= 0) {
        // Being written this very moment, or left empty by a launch killed in between.
        await sleep(50);
        let now = '';
        try {
          now = readFileSync(file, 'utf8');
        } catch {
          continue;
        }
        if (now !== '') continue;
      } else if (alive(holder)) {
        if (Date.now() > deadline) throw hostError(`the image store is locked by launch pid ${holder}:`, { code: 'STORE_LOCK', file });
        if (!told) onWait?.(holder);
        told = true;
        await sleep(100);
        continue;
      }
      // Its holder died: take it over. (Two launches doing this at once may both proceed; the
      // blobs stay safe, as each is verified before its rename.)
      rmSync(file, { force: true });
    }
    try {
      return await fn();
    } finally {
      rmSync(file, { force: true });
    }
  }
}
