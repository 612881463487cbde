// A real registry for the pull tests: Debian's docker-registry (distribution 2.8), on 127.0.0.1
// with a free port and a temporary storage directory, plain HTTP, optionally with htpasswd
// (Basic) auth. skopeo pushes images into it, so what the tests pull was stored by the
// reference implementation, not by us.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const BINARY = '/usr/bin/docker-registry';

/** Why the registry tests cannot run, or undefined when they can. */
export function registryMissing(): string | undefined {
  if (!existsSync(BINARY)) return 'needs docker-registry (apt-get install docker-registry)';
  if (spawnSync('skopeo', ['--version']).status !== 0) return 'needs skopeo (apt-get install skopeo)';
  return undefined;
}

export interface RunningRegistry {
  /** `127.0.0.1:PORT`. */
  host: string;
  /** The registry's storage directory (blobs at docker/registry/v2/blobs/sha256/XX/HEX/data). */
  storage: string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** An htpasswd file of bcrypt hashes: the registry then asks for Basic credentials. */
  htpasswd?: string;
}

/** A TCP port of 127.0.0.1 free right now (the kernel's pick, released again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Status of GET http://host/v2/, or undefined when nothing answers. */
function ping(host: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get(`http://${host}/v2/`, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(1000, () => req.destroy());
  });
}

function config(dir: string, port: number, o: RegistryOptions): string {
  const lines = [
    'version: 0.1',
    'log:',
    '  level: error',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    '  delete:',
    '    enabled: true',
    'http:',
    `  addr: 127.0.0.1:${port}`,
    '  secret: launch-test-secret',
  ];
  if (o.htpasswd) lines.push('auth:', '  htpasswd:', '    realm: launch-test', `    path: ${o.htpasswd}`);
  const file = join(dir, 'config.yml');
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Start a registry; it is ready (GET /v2/ answers) when this resolves. */
export async function startRegistry(o: RegistryOptions = {}): Promise<RunningRegistry> {
  const dir = mkdtempSync(join(tmpdir(), 'launch-registry-'));
  // The port may be taken between freePort() and the registry's bind: try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const child = spawn(BINARY, ['serve', config(dir, port, o)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const deadline = Date.now() + 15_000;
    let status: number | undefined;
    while (Date.now() < deadline && child.exitCode === null && child.signalCode === null) {
      status = await ping(host);
      if (status !== undefined) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    if (status === 200 || status === 401) {
      return {
        host,
        storage: join(dir, 'storage'),
        stop: async () => {
          await stopChild(child);
          rmSync(dir, { recursive: true, force: true });
        },
      };
    }
    await stopChild(child);
    if (!/address already in use/.test(stderr)) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`docker-registry did not start on ${host} (GET /v2/: ${status ?? 'no answer'}): ${stderr.trim()}`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error('docker-registry: no free port found');
}

/** Push the image tagged `tag` in the OCI layout `layoutDir` to `host/repo:tag`; `all`: an
 * image index with every image it lists (skopeo --all). */
export function pushLayout(layoutDir: string, tag: string, host: string, repo: string, creds?: string, all = false): void {
  const args = ['--insecure-policy', 'copy', '--quiet', '--dest-tls-verify=false', ...(all ? ['--all'] : [])];
  if (creds) args.push('--dest-creds', creds);
  args.push(`oci:${layoutDir}:${tag}`, `docker://${host}/${repo}:${tag}`);
  // No stored credentials: skopeo would otherwise read the caller's auth files, and as an
  // ordinary user without $XDG_RUNTIME_DIR that is /run/containers/UID/auth.json, which may be
  // root's leftover and unreadable.
  const env = { ...process.env, REGISTRY_AUTH_FILE: join(tmpdir(), `launch-no-auth-${process.pid}.json`) };
  execFileSync('skopeo', args, { stdio: ['ignore', 'ignore', 'pipe'], env });
}
