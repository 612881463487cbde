// slirp4netns, the older user-mode network (podman's before pasta), for hosts without pasta:
// the container gets 10.0.2.100 behind a gateway 10.0.2.2, and DNS at 10.0.2.3. The gateway
// reaches the host's loopback only when asked (--network slirp4netns:host-loopback), as with
// pasta (pasta.ts says why). It stays in the foreground, so launch starts it in a session of its
// own (a Ctrl-C at the terminal is for the container, not for its network), waits for the
// byte it writes on --ready-fd, and publishes ports through its API socket.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { hostError } from '../errors.js';
import type { Publish } from './options.js';
import { HELPER_LOG, helperLog, namespaceFds, recordHelper } from './helper.js';
import type { HelperStart } from './pasta.js';

export const SLIRP_SOCKET = 'slirp.sock';
/** sun_path holds 108 bytes with its NUL. */
const SUN_PATH_MAX = 107;

export function slirpArgs(o: { userns: boolean; apiSocket?: string; hostLoopback: boolean }): string[] {
  return [
    '--configure', '--mtu=65520', '--ready-fd=5',
    ...(o.hostLoopback ? [] : ['--disable-host-loopback']),
    ...(o.apiSocket ? [`--api-socket=${o.apiSocket}`] : []),
    ...(o.userns ? ['--userns-path=/proc/self/fd/4'] : []),
    '--netns-type=path', '/proc/self/fd/3', 'tap0',
  ];
}

/** The child's fd 5: slirp4netns writes one byte there once the interface is up. */
const readyPipe = (child: ChildProcess) => (child.stdio as unknown as Readable[])[5]!;

function ready(child: ChildProcess, stateDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(hostError(`slirp4netns could not connect the container's network: ${helperLog(stateDir) || why}`));
    };
    const timer = setTimeout(() => fail('not ready after 10 s'), 10_000);
    readyPipe(child).once('data', () => {
      clearTimeout(timer);
      resolve();
    });
    child.once('error', (err) => fail(err.message));
    child.once('exit', (code, signal) => fail(signal ? `killed by ${signal}` : `exit status ${code}`));
  });
}

/** One request to the API socket; resolves with its answer's `return`, or throws its error. */
function api(socket: string, request: object): Promise<void> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket);
    let answer = '';
    conn.on('connect', () => conn.end(JSON.stringify(request)));
    conn.on('data', (d) => (answer += d.toString()));
    conn.on('error', (err) => reject(hostError(`slirp4netns API: ${err.message}`, { file: socket })));
    conn.on('close', () => {
      try {
        const parsed = JSON.parse(answer) as { error?: { desc?: string } };
        if (parsed.error) reject(hostError(`slirp4netns: ${parsed.error.desc ?? JSON.stringify(parsed.error)}`));
        else resolve();
      } catch {
        reject(hostError(`slirp4netns API: unexpected answer \`${answer}\``, { file: socket }));
      }
    });
  });
}

export async function publishSlirp(socket: string, publish: readonly Publish[]): Promise<void> {
  for (const p of publish) {
    const args = { proto: p.proto, host_addr: p.hostIp ?? '0.0.0.0', host_port: p.hostPort, guest_port: p.containerPort };
    try {
      await api(socket, { execute: 'add_hostfwd', arguments: args });
    } catch (err) {
      throw hostError(`cannot publish ${p.hostPort}:${p.containerPort}/${p.proto}: ${(err as Error).message}`);
    }
  }
}

/** Start slirp4netns for the container; returns its pid once the interface is configured and
 * the ports are published. */
export async function startSlirp(o: HelperStart): Promise<number> {
  const apiSocket = o.publish.length ? join(o.stateDir, SLIRP_SOCKET) : undefined;
  if (apiSocket && Buffer.byteLength(apiSocket) > SUN_PATH_MAX) {
    throw hostError(`slirp4netns's API socket path is longer than ${SUN_PATH_MAX} bytes (use a shorter --root or container id to publish ports)`, { file: apiSocket });
  }
  const fds = namespaceFds(o.pid, o.userns);
  const log = openSync(join(o.stateDir, HELPER_LOG), 'w', 0o600);
  let child: ChildProcess;
  try {
    const nsFds = o.userns ? fds : [fds[0]!, 'ignore' as const];
    child = spawn(o.program, slirpArgs({ userns: o.userns, apiSocket, hostLoopback: o.hostLoopback }), { stdio: ['ignore', log, log, ...nsFds, 'pipe'], detached: true });
  } finally {
    for (const fd of [...fds, log]) closeSync(fd);
  }
  // Recorded at once: a failure from here on (or launch's death) leaves it for stopHelper.
  if (child.pid) recordHelper(o.stateDir, child.pid);
  await ready(child, o.stateDir);
  child.removeAllListeners('exit');
  child.removeAllListeners('error');
  readyPipe(child).destroy();
  // Not waited for by Node: its exit (after the container's) must not keep launch alive.
  child.unref();
  if (apiSocket) await publishSlirp(apiSocket, o.publish);
  return child.pid!;
}
