// Image references as docker and podman read them (distribution/reference, "normalized named"):
// `busybox` is docker.io/library/busybox:latest, and the first path component is a registry
// only when it looks like a host name. Parsed once here so the registry client, the image
// store and error lines all agree on one canonical name.
import { usageError } from '../errors.js';
import { parseDigest } from './digest.js';

export interface Reference {
  /** `docker.io`, `quay.io`, `localhost:5000`: the name users write, not the API host. */
  registry: string;
  /** `library/busybox`: the path under the registry's /v2/. */
  repository: string;
  /** `latest` when neither a tag nor a digest is given; undefined for `name@digest`. */
  tag: string | undefined;
  digest: string | undefined;
}

const DOCKER_HUB = 'docker.io';

// distribution/reference's grammar. A path component is lowercase alphanumerics joined by
// `.`, `_`, `__` or runs of `-`; a domain is host labels (any case) with an optional port, or
// an IPv6 literal in brackets.
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const LABEL = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN = new RegExp(`^(?:${LABEL}(?:\\.${LABEL})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
const TAG = /^[\w][\w.-]{0,127}$/;
// Docker's limit on the whole name (domain included), so a name that works there works here.
const NAME_MAX = 255;

export function parseReference(text: string): Reference {
  const bad = (what: string) => usageError(`invalid image reference ${JSON.stringify(text)}: ${what}`, { code: 'IMAGE_NAME' });
  if (text === '') throw bad('the name is empty');

  let rest = text;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const parsed = parseDigest(rest.slice(at + 1));
    if (typeof parsed === 'string') throw bad(parsed);
    digest = parsed.text;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  // A colon after the last slash starts a tag; one before it is a registry's port.
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw bad(`invalid tag ${JSON.stringify(tag)} (letters, digits, _ . -, at most 128, not starting with . or -)`);
  }
  if (rest === '') throw bad('the name is empty');
  if (rest.length > NAME_MAX) throw bad(`the name is longer than ${NAME_MAX} characters`);

  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost') {
      if (!DOMAIN.test(first)) throw bad(`invalid registry ${JSON.stringify(first)}`);
      registry = first === 'index.docker.io' ? DOCKER_HUB : first;
      repository = rest.slice(slash + 1);
    }
  }
  for (const component of repository.split('/')) {
    if (COMPONENT.test(component)) continue;
    if (COMPONENT.test(component.toLowerCase())) throw bad('the repository name must be lowercase');
    throw bad(component === '' ? 'empty path component' : `invalid path component ${JSON.stringify(component)}`);
  }
  // Official images live under library/ on Docker Hub, and only there.
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (tag === undefined && digest === undefined) tag = 'latest';
  return { registry, repository, tag, digest };
}

/** `docker.io/library/busybox:latest`, `quay.io/a/b@sha256:...`: the canonical form. */
export function formatReference(r: Reference): string {
  return `${r.registry}/${r.repository}${r.tag === undefined ? '' : `:${r.tag}`}${r.digest === undefined ? '' : `@${r.digest}`}`;
}

/** The host the v2 API answers on: Docker Hub's name and its API host differ. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? 'registry-1.docker.io' : registry;
}
