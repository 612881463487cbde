// The published ports, tried on the host before a helper is started: pasta (Debian 12's)
// goes on without a port it cannot bind, and slirp4netns says only "add_hostfwd failed", so
// a port in use or below ip_unprivileged_port_start is named here, with its errno.
import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';
import { fromNodeError } from '../errors.js';
import type { Publish } from './options.js';

function tryBind(p: Publish): Promise<unknown> {
  const host = p.hostIp ?? '0.0.0.0';
  return new Promise((resolve) => {
    if (p.proto === 'udp') {
      const s = createSocket('udp4');
      s.once('error', (err) => resolve(err));
      s.bind({ port: p.hostPort, address: host, exclusive: true }, () => s.close(() => resolve(undefined)));
    } else {
      const s = createServer();
      s.once('error', (err) => resolve(err));
      s.listen({ port: p.hostPort, host, exclusive: true }, () => s.close(() => resolve(undefined)));
    }
  });
}

export async function checkPorts(publish: readonly Publish[]): Promise<void> {
  for (const p of publish) {
    const err = await tryBind(p);
    const where = `${p.hostIp ? `${p.hostIp}:` : ''}${p.hostPort}`;
    if (err) throw fromNodeError('host', `cannot publish ${where}:${p.containerPort}/${p.proto}: cannot listen on host port ${where}/${p.proto}`, err);
  }
}
