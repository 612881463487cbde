// Image config -> the bundle's config.json (image-spec conversion.md), on top of `launch spec`'s
// defaults: Entrypoint + Cmd (ARGS replace Cmd, as `docker run IMAGE ARGS`), Env over the
// defaults, WorkingDir, User resolved through the image's own /etc/passwd and /etc/group,
// Labels and StopSignal as annotations. Pure: the caller reads passwd and group from the
// unpacked rootfs (inside it: an image may make /etc/passwd a symlink to anywhere).
import { specError } from '../errors.js';
import { defaultSpec } from '../spec/generate.js';
import type { Spec } from '../spec/schema.js';
import type { ImageConfig } from './types.js';

export interface RuntimeConfigOptions {
  rootless: boolean;
  /** The caller's ids, mapped to root when rootless (defaultSpec's). */
  uid?: number;
  gid?: number;
  /** Words that replace the image's Cmd. */
  args?: string[];
  /** The rootfs's /etc/passwd and /etc/group, '' when absent. */
  passwd: string;
  group: string;
}

/** Annotation prefixes that are runtime settings (launch's own, runc's systemd properties),
 * never copied from an image's labels. */
const RESERVED_LABELS = ['run.launch.', 'org.systemd.property.'];

/** image-spec's annotation for config.StopSignal (conversion.md). */
export const STOP_SIGNAL = 'org.opencontainers.image.stopSignal';

interface Entry {
  name: string;
  id: number;
  gid: number;
  members: string[];
}

/** name:x:id:gid:... (passwd) or name:x:gid:members (group); malformed lines are skipped. */
function parseDb(text: string, kind: 'passwd' | 'group'): Entry[] {
  const out: Entry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length < (kind === 'passwd' ? 4 : 3) || !f[0] || !/^\d+$/.test(f[2]!)) continue;
    if (kind === 'passwd' && !/^\d+$/.test(f[3]!)) continue;
    out.push({ name: f[0], id: Number(f[2]), gid: kind === 'passwd' ? Number(f[3]) : Number(f[2]), members: kind === 'group' ? (f[3] ?? '').split(',').filter(Boolean) : [] });
  }
  return out;
}

const isId = (s: string) => /^\d+$/.test(s) && Number(s) <= 0xffffffff;

/** `User` as docker reads it: "", NAME, UID, NAME:GROUP, UID:GID (and mixes). A name must be in
 * the image's files; a number need not be. The primary group comes from passwd when the user
 * is there (else 0); supplementary groups are the groups that list the user by name. */
export function resolveUser(user: string, passwd: string, group: string): { uid: number; gid: number; additionalGids: number[] } {
  if (user === '') return { uid: 0, gid: 0, additionalGids: [] };
  const [u, g, extra] = user.split(':');
  if (extra !== undefined || u === '') throw specError(`must be USER or USER:GROUP, got \`${user}\``, { configPath: 'config.User' });
  const users = parseDb(passwd, 'passwd');
  const groups = parseDb(group, 'group');
  const entry = isId(u!) ? users.find((e) => e.id === Number(u)) : users.find((e) => e.name === u);
  if (!entry && !isId(u!)) throw specError(`user \`${u}\` is not in the image's /etc/passwd`, { configPath: 'config.User' });
  const uid = entry?.id ?? Number(u);
  let gid = entry?.gid ?? 0;
  if (g !== undefined) {
    const ge = isId(g) ? undefined : groups.find((e) => e.name === g);
    if (!isId(g) && !ge) throw specError(`group \`${g}\` is not in the image's /etc/group`, { configPath: 'config.User' });
    gid = ge?.id ?? Number(g);
  }
  const additionalGids = entry && g === undefined ? groups.filter((e) => e.members.includes(entry.name) && e.id !== gid).map((e) => e.id) : [];
  return { uid, gid, additionalGids: [...new Set(additionalGids)] };
}

/** Env lists merged by variable name, later lists winning, order of first appearance kept. */
function mergeEnv(...lists: string[][]): string[] {
  const byKey = new Map<string, string>();
  for (const list of lists) for (const e of list) byKey.set(e.includes('=') ? e.slice(0, e.indexOf('=')) : e, e);
  return [...byKey.values()];
}

export function runtimeConfig(image: ImageConfig, opts: RuntimeConfigOptions): Spec {
  const run = image.config ?? {};
  const args = [...(run.Entrypoint ?? []), ...(opts.args?.length ? opts.args : (run.Cmd ?? []))];
  if (args.length === 0) throw specError('the image has neither Entrypoint nor Cmd: give the command to run', { configPath: 'config.Cmd' });
  const spec = defaultSpec({ rootless: opts.rootless, uid: opts.uid, gid: opts.gid, args });
  const proc = spec.process!;
  proc.terminal = false;
  proc.env = mergeEnv(proc.env ?? [], run.Env ?? []);
  proc.cwd = run.WorkingDir || '/';
  const user = resolveUser(run.User ?? '', opts.passwd, opts.group);
  proc.user = { uid: user.uid, gid: user.gid, ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}) };
  // An image's rootfs is the container's own copy: programs expect to write to it.
  spec.root = { path: 'rootfs', readonly: false };
  // Not every label: the image is not trusted to configure its own runtime, and launch reads
  // `run.launch.*` annotations as orders (`run.launch.network: host` would put `run --image`
  // in the host's network namespace, `run.launch.publish` open host ports) and the systemd
  // driver `org.systemd.property.*` as unit properties. Those stay the bundle owner's.
  const annotations: Record<string, string> = {};
  for (const [key, value] of Object.entries(run.Labels ?? {})) {
    if (!RESERVED_LABELS.some((p) => key.startsWith(p))) annotations[key] = value;
  }
  if (run.StopSignal) annotations[STOP_SIGNAL] = run.StopSignal;
  if (Object.keys(annotations).length) spec.annotations = annotations;
  return spec;
}
