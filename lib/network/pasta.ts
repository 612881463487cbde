// pasta (Debian: passt), the user-mode network of current podman: a tap interface in the
// container's namespace whose traffic pasta turns into ordinary sockets of the caller, so
// it needs no privilege beyond owning the namespace. It copies the host's address and routes,
// forwards DNS sent to PASTA_DNS to the host's resolver, and listens on the published ports.
// Its default of mapping the gateway's address to the host's loopback is off unless asked
// (--network pasta:host-loopback; then it is our host.containers.internal): the container
// would reach every service the host binds to 127.0.0.1 for its own users only.
// Started once the namespaces exist and before the container's program runs; pasta forks into
// the background once the interface is configured, so its exit says whether that worked.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { hostError } from '../errors.js';
import type { Publish } from './options.js';
import { PASTA_DNS } from './files.js';
import { HELPER_LOG, PASTA_PIDFILE, helperLog, namespaceFds } from './helper.js';

export interface HelperStart {
  program: string;
  /** The container's init. */
  pid: number;
  stateDir: string;
  publish: readonly Publish[];
  /** The init is in a user namespace of its own: the helper joins it too. */
  userns: boolean;
  /** Map the gateway to the host's 127.0.0.1 (NetworkDecision.hostLoopback). */
  hostLoopback: boolean;
}

/** -t/-u specs: `[IP/]HOST:CONTAINER`, or `none` (pasta's default would forward every port
 * the container binds, and -T/-U every port bound on the host into the container's loopback). */
export function pastaArgs(publish: readonly Publish[], o: { pidFile: string; userns: boolean; uid: number; hostLoopback: boolean }): string[] {
  const ports = (proto: Publish['proto'], flag: string) => {
    const list = publish.filter((p) => p.proto === proto);
    if (!list.length) return [flag, 'none'];
    return list.flatMap((p) => [flag, `${p.hostIp ? `${p.hostIp}/` : ''}${p.hostPort}:${p.containerPort}`]);
  };
  return [
    '--config-net', '--quiet', '--pid', o.pidFile,
    ...ports('tcp', '-t'), ...ports('udp', '-u'), '-T', 'none', '-U', 'none',
    ...(o.hostLoopback ? [] : ['--no-map-gw']),
    '--dns-forward', PASTA_DNS,
    // As root, pasta would switch to `nobody` before opening the namespaces, which nobody
    // may enter: it keeps uid 0 (with its capabilities cut to what it needs).
    ...(o.uid === 0 ? ['--runas', '0:0'] : []),
    '--netns', '/proc/self/fd/3',
    ...(o.userns ? ['--userns', '/proc/self/fd/4'] : []),
  ];
}

/** Start pasta for the container; returns the pid of its background process. */
export async function startPasta(o: HelperStart): Promise<number> {
  const pidFile = join(o.stateDir, PASTA_PIDFILE);
  const fds = namespaceFds(o.pid, o.userns);
  const log = openSync(join(o.stateDir, HELPER_LOG), 'w', 0o600);
  let status: { code: number | null; signal: string | null; error?: Error };
  try {
    const child = spawn(o.program, pastaArgs(o.publish, { pidFile, userns: o.userns, uid: process.getuid!(), hostLoopback: o.hostLoopback }), { stdio: ['ignore', log, log, ...fds] });
    status = await new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.once('error', (error) => resolve({ code: null, signal: null, error }));
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal });
      });
    });
  } finally {
    for (const fd of [...fds, log]) closeSync(fd);
  }
  if (status.code !== 0) {
    const why = status.error ? status.error.message : helperLog(o.stateDir) || (status.signal ? `killed by ${status.signal}` : `exit status ${status.code}`);
    throw hostError(`pasta could not connect the container's network: ${why}`, { file: o.program });
  }
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) throw hostError('pasta wrote no pid file', { file: pidFile });
  return pid;
}
