// The image verbs: `pull`, `unpack`, `images`, `rmi`, `unshare`, and `run --image`'s options.
// Images are named as skopeo and podman name them (lib/image/locate.ts); the work is in
// lib/image/ (locate.ts, bundle.ts, catalog.ts), and here only what the command line prints.
import { escapeControls, usageError } from '../errors.js';
import { probeHost } from '../host.js';
import type { ImageAccess } from '../image/locate.js';
import type { GlobalOptions } from './main.js';

export interface ImageOptions extends GlobalOptions {
  /** --store: the image store's directory. */
  store?: string;
  /** --tls-verify=false: plain HTTP and unverified certificates for the registry. */
  tlsVerify: boolean;
}

// A note quotes the image (entry names, media types, attribute names): its control characters
// must not reach the terminal as escape sequences, nor a newline forge a `launch:` line.
const note = (msg: string) => process.stderr.write(`launch: note: ${escapeControls(msg)}\n`);

/** How the command line's image verbs reach images: notes and progress on stderr. */
export function imageAccess(o: { store?: string | undefined; tlsVerify: boolean }): ImageAccess {
  return { ...(o.store !== undefined ? { store: o.store } : {}), tlsVerify: o.tlsVerify, note, progress: process.stderr };
}

export async function pullVerb(o: ImageOptions & { ref: string; quiet: boolean }): Promise<void> {
  const { openStore, pullInto } = await import('../image/locate.js');
  const access = imageAccess(o);
  const ref = o.ref.startsWith('docker://') ? o.ref.slice(9) : o.ref;
  const got = await pullInto(openStore(access), ref, access, o.quiet);
  process.stdout.write(`${got.configDigest.slice(got.configDigest.indexOf(':') + 1)}\n`);
}

export async function unpackVerb(o: ImageOptions & { image: string; bundle: string }): Promise<void> {
  const { unpackBundle } = await import('../image/bundle.js');
  await unpackBundle({ ...imageAccess(o), image: o.image, bundle: o.bundle });
}

function humanSize(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) [v, i] = [v / 1000, i + 1];
  return `${i === 0 ? v : v.toPrecision(3)} ${units[i]}`;
}

export async function imagesVerb(o: ImageOptions & { format: string; quiet: boolean }): Promise<void> {
  const { listImages } = await import('../image/catalog.js');
  const rows = listImages(imageAccess(o));
  if (o.format === 'json') {
    process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
    return;
  }
  const short = (d: string) => d.slice(d.indexOf(':') + 1, d.indexOf(':') + 13);
  if (o.quiet) {
    for (const r of rows) process.stdout.write(`${short(r.id)}\n`);
    return;
  }
  const table = [['NAME', 'IMAGE ID', 'CREATED', 'SIZE'], ...rows.map((r) => [r.name, short(r.id), r.created.slice(0, 19).replace('T', ' '), humanSize(r.size)])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  for (const row of table) process.stdout.write(`${row.map((cell, c) => (c === row.length - 1 ? cell : cell.padEnd(widths[c]!))).join('   ')}\n`);
}

export async function rmiVerb(o: ImageOptions & { refs: string[]; prune: boolean }): Promise<void> {
  if (o.refs.length === 0 && !o.prune) throw usageError('name the images to remove (or --prune to only collect garbage)', { code: 'USAGE' });
  const { removeImages } = await import('../image/catalog.js');
  const { removed, busy } = await removeImages({ ...imageAccess(o), refs: o.refs, root: o.root });
  for (const n of removed) process.stdout.write(`${n}\n`);
  for (const dir of busy) note(`kept the unpacked tree ${dir}: a container still runs from it (launch rmi --prune removes it later)`);
}

/** `launch unshare [CMD...]`: run a command as root of a user namespace with the caller's
 * subordinate ids mapped, the namespace rootless unpacking uses, as `podman unshare`: to look
 * at or remove (`launch unshare rm -rf BUNDLE`) files an image gave to other ids. */
export async function unshareVerb(o: GlobalOptions & { command: string[] }): Promise<number> {
  const host = probeHost();
  const { execInUserns, imageIdMap, noIdMapReason } = await import('../image/userns.js');
  const idmap = imageIdMap(host);
  if (!idmap) {
    throw usageError(host.uid === 0 ? 'unshare is for ordinary users: root owns every id already' : `no subordinate ids to map: ${noIdMapReason(host)}`, { code: 'USAGE' });
  }
  const args = o.command.length ? o.command : [process.env.SHELL || '/bin/sh'];
  const status = await execInUserns(args, host, idmap);
  return status.signal ? 128 + status.signal : (status.code ?? 125);
}
