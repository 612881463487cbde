// Network tests: launch started so that user-mode networking can work for `who`, a server on
// the host's loopback, and free ports. Nothing here talks to an address off this machine.
import { type ChildProcess, type SpawnOptions, spawn, spawnSync } from 'node:child_process';
import { accessSync, closeSync, constants, existsSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Server, createServer } from 'node:http';
import type { RunAs } from './env.js';
import { ownedDir } from './bundle.js';
import { type Result, SLOW, command, spawnOptions } from './launch.js';

const isRoot = () => process.getuid!() === 0;

/** Root binds a 0666 /dev/net/tun over this machine's 0600 one in a private mount namespace,
 * then becomes the user: as the issue allows (distributions ship 0666). */
const TUN_WRAP =
  'u=$1 g=$2 n=$3; shift 3; mknod -m 666 "$n" c 10 200 && mount --bind "$n" /dev/net/tun && rm -f "$n" && exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"';

function tunUsable(): boolean {
  try {
    accessSync('/dev/net/tun', constants.R_OK | constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why user-mode networking cannot be tested for `who` with `helper`, or undefined. */
export function netMissing(who: RunAs | undefined, helper: 'pasta' | 'slirp4netns'): string | undefined {
  if (!existsSync(`/usr/bin/${helper}`)) return `needs ${helper} (apt-get install ${helper === 'pasta' ? 'passt' : 'slirp4netns'})`;
  if (!who || who.uid === 0 || isRoot() || tunUsable()) return undefined;
  return 'needs /dev/net/tun usable by the test user (mode 0666, or root to bind such a node over it; .ci/run does)';
}

/** launch ARGS as `who`, able to open /dev/net/tun. */
export function netChild(who: RunAs, args: string[], stdio: SpawnOptions['stdio'] = 'pipe'): ChildProcess {
  const [file, argv] = command(who, args);
  const opts = spawnOptions(who, { stdio });
  if (who.uid === 0 || !isRoot()) return spawn(file, argv, opts);
  const node = `${ownedDir(who, 'tun')}/tun`;
  const { uid: _u, gid: _g, ...asRoot } = opts;
  return spawn('unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', TUN_WRAP, 'sh', String(who.uid), String(who.gid), node, file, ...argv], asRoot);
}

/** Root hides this machine's /dev/net/tun from the user in a private mount namespace, then
 * becomes the user: a tmpfs over /dev/net holding a root-owned 0600 node (EACCES) or nothing
 * (ENOENT). The host's node is left alone, so tests running meanwhile keep theirs. */
const TUN_HIDE =
  'u=$1 g=$2 e=$3; shift 3; mount -t tmpfs -o mode=0755 launch-test-tun /dev/net && { [ "$e" = ENOENT ] || mknod -m 600 /dev/net/tun c 10 200; } && exec setpriv --reuid="$u" --regid="$g" --clear-groups -- "$@"';

/** Why withoutTun cannot run for `who`, or undefined. */
export function tunHideMissing(who: RunAs | undefined): string | undefined {
  if (!isRoot()) return 'needs root (to hide /dev/net/tun from the test user in a private mount namespace)';
  if (!who || who.uid === 0) return 'needs the rootless user';
  return existsSync('/dev/net') ? undefined : 'needs /dev/net';
}

/** launch ARGS as the unprivileged `who`, for whom opening /dev/net/tun fails with `errno`. */
export function withoutTun(who: RunAs, errno: 'EACCES' | 'ENOENT', args: string[]): Result {
  const [file, argv] = command(who, args);
  const { uid: _u, gid: _g, ...asRoot } = spawnOptions(who);
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', '/bin/sh', '-c', TUN_HIDE, 'sh', String(who.uid), String(who.gid), errno, file, ...argv], {
    ...asRoot,
    stdio: 'pipe',
    encoding: 'utf8',
    timeout: 30_000 * SLOW,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Run to the end, collecting the output (the event loop stays free for a test's server). */
export function netRun(who: RunAs, args: string[], ms = 30_000): Promise<Result> {
  const child = netChild(who, args);
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms * SLOW);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout, stderr });
    });
  });
}

/** A verb whose container outlives it (create, run -d): its stdio goes to a file, which the
 * container may keep open, and the verb's own exit ends the wait. */
export async function netDetached(who: RunAs, args: string[]): Promise<{ status: number | null; log: string }> {
  const file = join(ownedDir(who, 'log'), 'log');
  const fd = openSync(file, 'w');
  try {
    const child = netChild(who, args, ['ignore', fd, fd]);
    const status = await new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { status, log: readFileSync(file, 'utf8') };
  } finally {
    closeSync(fd);
  }
}

/** An HTTP server on the host's 127.0.0.1 answering `body`; its port. */
export async function hostServer(body: string): Promise<{ port: number; server: Server }> {
  const server = createServer((_req, res) => res.end(body));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** GET http://127.0.0.1:port/ until it answers (the container may still be starting). */
export async function fetchUntil(port: number, ms = 10_000): Promise<string> {
  const end = Date.now() + ms * SLOW;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const res = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(2000) });
      return await res.text();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  throw new Error(`nothing answered on 127.0.0.1:${port}: ${String(last)}`);
}

/** A one-file TFTP server (RFC 1350, read requests only) on the host's 127.0.0.1 over UDP,
 * for busybox `tftp` inside: the plainest UDP exchange a busybox container can start. */
export async function tftpServer(body: string): Promise<{ port: number; close(): void }> {
  const { createSocket } = await import('node:dgram');
  const sock = createSocket('udp4');
  sock.on('message', (msg, peer) => {
    if (msg.readUInt16BE(0) !== 1) return; // RRQ; the ACK of our one block needs no answer
    const data = Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.from(body)]); // DATA, block 1 (< 512 bytes: the last)
    sock.send(data, peer.port, peer.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, '127.0.0.1', resolve));
  return { port: sock.address().port, close: () => sock.close() };
}
