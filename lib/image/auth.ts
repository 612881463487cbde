// Registry credentials from the files podman, skopeo and docker write (containers-auth.json(5)),
// read in their order so `podman login` or `docker login` is all a user needs. Only stored
// passwords and identity tokens: credential helpers are programs we would have to run, and
// are reported as not supported rather than silently passed over.
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fromNodeError, specError } from '../errors.js';

export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (`docker login` against an identity provider). */
  identityToken?: string;
  /** The file the entry came from, for error lines. */
  file: string;
  /** Why credentials that exist could not be used (a credential helper), for error lines. */
  note?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The files, most specific first. $REGISTRY_AUTH_FILE is a user's explicit choice, so it
 * comes before everything; an unset variable just drops its file from the list. */
export function authFiles(env: NodeJS.ProcessEnv = process.env, home: string = env.HOME || homedir()): string[] {
  const files: string[] = [];
  if (env.REGISTRY_AUTH_FILE) files.push(env.REGISTRY_AUTH_FILE);
  if (env.XDG_RUNTIME_DIR) files.push(join(env.XDG_RUNTIME_DIR, 'containers/auth.json'));
  files.push(join(env.XDG_CONFIG_HOME || join(home, '.config'), 'containers/auth.json'));
  files.push(join(env.DOCKER_CONFIG || join(home, '.docker'), 'config.json'));
  return files;
}

/** The names a file may store this registry's entry under, best first. Docker Hub has had
 * several, and `docker login` still writes the v1 index URL. */
function keysFor(registry: string): string[] {
  const keys = [registry, `https://${registry}`, `http://${registry}`];
  if (registry === 'docker.io') keys.push('https://index.docker.io/v1/', 'index.docker.io', 'registry-1.docker.io', 'https://registry-1.docker.io');
  return keys;
}

/** A key's host, as docker reads its legacy keys (`https://quay.io/v1/` is quay.io). A key
 * without a scheme is kept whole: `quay.io/org` is a namespace, not the whole registry. */
function keyHost(key: string): string {
  const m = /^https?:\/\/([^/]+)/.exec(key);
  return m ? m[1]! : key;
}

async function readJson(file: string): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    throw fromNodeError('host', 'cannot read the credentials file', err, { code: 'REGISTRY_AUTH_FILE', file });
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    const reason = String((err as Error).message).split('\n')[0];
    throw specError(`invalid JSON in the credentials file (${reason})`, { code: 'REGISTRY_AUTH_FILE', file, cause: err });
  }
  if (!isObject(doc)) throw specError('the credentials file is not a JSON object', { code: 'REGISTRY_AUTH_FILE', file });
  return doc;
}

/** The entry's credentials, or undefined when it holds none (docker writes `{}` entries when
 * the secret lives in a credsStore). */
function entryCredentials(entry: unknown, key: string, file: string): Credentials | undefined {
  if (!isObject(entry)) return undefined;
  const bad = (what: string) => specError(`auths[${JSON.stringify(key)}]: ${what} in the credentials file`, { code: 'REGISTRY_AUTH_FILE', file });
  const creds: Credentials = { file };
  if (typeof entry.auth === 'string' && entry.auth !== '') {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0 || !/^[A-Za-z0-9+/=\s]+$/.test(entry.auth)) throw bad('"auth" is not base64 of "user:password"');
    creds.username = decoded.slice(0, colon);
    creds.password = decoded.slice(colon + 1);
  } else if (typeof entry.username === 'string' && entry.username !== '') {
    creds.username = entry.username;
    creds.password = typeof entry.password === 'string' ? entry.password : '';
  }
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') creds.identityToken = entry.identitytoken;
  return creds.username !== undefined || creds.identityToken !== undefined ? creds : undefined;
}

/** Credentials for `registry` (as a Reference names it: `docker.io`, `localhost:5000`) from the
 * first file that has an entry for it; undefined when none has. When a file names a credential
 * helper for it instead, and no later file has an entry, the answer is only a note saying so. */
export async function findCredentials(registry: string, env: NodeJS.ProcessEnv = process.env, home: string = env.HOME || homedir()): Promise<Credentials | undefined> {
  const keys = keysFor(registry);
  let note: { file: string; note: string } | undefined;
  for (const file of authFiles(env, home)) {
    const doc = await readJson(file);
    if (!doc) continue;
    const auths = isObject(doc.auths) ? doc.auths : {};
    const rank = (key: string) => {
      const exact = keys.indexOf(key);
      if (exact >= 0) return exact;
      const host = keys.indexOf(keyHost(key));
      return host >= 0 ? keys.length + host : -1;
    };
    const found = Object.keys(auths)
      .map((key) => ({ key, rank: rank(key) }))
      .filter((k) => k.rank >= 0)
      .sort((a, b) => a.rank - b.rank);
    for (const { key } of found) {
      const creds = entryCredentials(auths[key], key, file);
      if (creds) return note ? { ...creds, note: note.note } : creds;
    }
    if (note === undefined) {
      const helpers = isObject(doc.credHelpers) ? doc.credHelpers : {};
      const helperKey = keys.find((k) => typeof helpers[k] === 'string');
      const helper = helperKey !== undefined ? helpers[helperKey] : doc.credsStore;
      if (typeof helper === 'string' && helper !== '') {
        note = { file, note: `credential helper docker-credential-${helper} for ${registry} in \`${file}\` is not supported (store the login in $REGISTRY_AUTH_FILE instead)` };
      }
    }
  }
  return note;
}
