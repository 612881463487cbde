// The network choices without a container: publish specs, the request from flags and
// annotations, the decision (with the helpers' presence faked), the files, helper arguments.
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LaunchError, formatError } from '../../lib/errors.js';
import { expandShorthand } from '../../lib/cli/main.js';
import { type HelperFacts, decideNetwork, tunProblem } from '../../lib/network/decide.js';
import { PASTA_DNS, defaultRoute, hostsFile, networkFiles, resolvConf, withNetworkFiles } from '../../lib/network/files.js';
import { NETWORK_ANNOTATION, PUBLISH_ANNOTATION, networkRequest, parsePublish } from '../../lib/network/options.js';
import { pastaArgs } from '../../lib/network/pasta.js';
import { slirpArgs } from '../../lib/network/slirp.js';
import { defaultSpec } from '../../lib/spec/generate.js';
import type { Spec } from '../../lib/spec/schema.js';

const usage = (m: string) => new LaunchError('usage', m);
const line = (f: () => unknown) => {
  try {
    f();
  } catch (err) {
    return formatError(err);
  }
  throw new Error('did not throw');
};

describe('parsePublish', () => {
  it('takes HOST:CONTAINER, IP:HOST:CONTAINER and a protocol', () => {
    expect(parsePublish('8080:80', usage)).toEqual({ proto: 'tcp', hostPort: 8080, containerPort: 80 });
    expect(parsePublish('127.0.0.1:53:5353/udp', usage)).toEqual({ proto: 'udp', hostIp: '127.0.0.1', hostPort: 53, containerPort: 5353 });
    expect(parsePublish('1:65535/tcp', usage)).toEqual({ proto: 'tcp', hostPort: 1, containerPort: 65535 });
  });

  it.each([
    ['80', 'is not [IP:]HOST_PORT:CONTAINER_PORT'],
    ['0:80', 'host port `0` is not a port number'],
    ['8080:70000', 'container port `70000` is not a port number'],
    ['8080:80/sctp', 'the protocol must be tcp or udp, not `sctp`'],
    ['300.1.1.1:8080:80', '`300.1.1.1` is not an IPv4 address'],
    ['a:b:c:d', 'is not [IP:]HOST_PORT:CONTAINER_PORT'],
    ['80x:80', 'host port `80x`'],
  ])('refuses %s', (text, msg) => {
    expect(() => parsePublish(text, usage)).toThrow(msg);
  });
});

const spec = (annotations?: Record<string, string>): Spec => ({ ...defaultSpec({ rootless: false }), ...(annotations ? { annotations } : {}) });

describe('networkRequest', () => {
  it('reads the annotations, and the command line wins over them', () => {
    const s = spec({ [NETWORK_ANNOTATION]: 'slirp4netns', [PUBLISH_ANNOTATION]: '8080:80, 53:53/udp' });
    const fromConfig = networkRequest(s, {});
    expect(fromConfig.mode).toBe('slirp4netns');
    expect(fromConfig.publish.map((p) => `${p.hostPort}/${p.proto}`)).toEqual(['8080/tcp', '53/udp']);
    const fromCli = networkRequest(s, { network: 'pasta', publish: ['9000:90'] });
    expect(fromCli).toMatchObject({ mode: 'pasta', modeFrom: '--network', publish: [{ hostPort: 9000 }] });
  });

  it('names where a bad value came from', () => {
    expect(line(() => networkRequest(spec(), { network: 'bridge' }))).toBe(
      'launch: --network: `bridge` is not one of pasta, slirp4netns, none, host, auto (pasta, slirp4netns and auto may end in :host-loopback)',
    );
    expect(line(() => networkRequest(spec({ [NETWORK_ANNOTATION]: 'wifi' }), {}))).toBe(
      'launch: annotations["run.launch.network"]: `wifi` is not one of pasta, slirp4netns, none, host, auto (pasta, slirp4netns and auto may end in :host-loopback)',
    );
    expect(line(() => networkRequest(spec({ [PUBLISH_ANNOTATION]: '8080' }), {}))).toContain('annotations["run.launch.publish"]: `8080` is not');
    expect(line(() => networkRequest(spec(), { publish: ['8080:80', '8080:81'] }))).toBe('launch: --publish: host port 8080/tcp is published twice');
    // The same host port for tcp and udp is two ports.
    expect(networkRequest(spec(), { publish: ['53:53', '53:53/udp'] }).publish).toHaveLength(2);
  });
});

/** `tun`: the errno this user's open of /dev/net/tun fails with (none: it opens). */
const facts = (o: { pasta?: boolean; slirp?: boolean; tun?: string; tunLoaded?: boolean; uid?: number } = {}): HelperFacts => ({
  find: (h) => ((h === 'pasta' ? o.pasta ?? true : o.slirp ?? true) ? `/usr/bin/${h}` : undefined),
  tun: () => (o.tun ? { errno: o.tun, loaded: o.tunLoaded ?? true } : undefined),
  uid: () => o.uid ?? 1000,
});
const EACCES_FIX =
  "`/dev/net/tun` is not readable and writable by uid 1000 (EACCES), and user-mode networking opens it in the container's namespace; fix: `sudo chmod 0666 /dev/net/tun` (the mode distributions ship)";
const decide = (s: Spec, cli: { network?: string; publish?: string[] }, verb: 'run' | 'create' = 'run', f = facts()) => decideNetwork(s, networkRequest(s, cli), verb, f);
const netns = (s: Spec) => s.linux?.namespaces?.filter((n) => n.type === 'network') ?? [];

describe('decideNetwork', () => {
  // Seen failing on the code before: run's default was auto (pasta here), whose gateway
  // reached the host's 127.0.0.1.
  it('run, unasked: the config\'s network as runc makes it (loopback only), no helper', () => {
    const d = decide(spec(), {});
    expect(d).toMatchObject({ mode: 'config', hostLoopback: false, publish: [] });
    expect(d.program).toBeUndefined();
    expect(netns(d.spec)).toEqual([{ type: 'network' }]);
    expect(networkFiles(d, 'runc')).toBeUndefined();
    // -p alone asks for a helper, still without the host's loopback.
    expect(decide(spec(), { publish: ['8080:80'] })).toMatchObject({ mode: 'pasta', hostLoopback: false, publish: [{ hostPort: 8080 }] });
  });

  it('the host\'s loopback only through :host-loopback, of a helper', () => {
    expect(decide(spec(), { network: 'pasta' })).toMatchObject({ mode: 'pasta', hostLoopback: false });
    expect(decide(spec(), { network: 'pasta:host-loopback' })).toMatchObject({ mode: 'pasta', hostLoopback: true });
    expect(decide(spec(), { network: 'auto:host-loopback' }, 'run', facts({ pasta: false }))).toMatchObject({ mode: 'slirp4netns', hostLoopback: true });
    expect(decide(spec({ [NETWORK_ANNOTATION]: 'slirp4netns:host-loopback' }), {}, 'create')).toMatchObject({ mode: 'slirp4netns', hostLoopback: true });
    expect(line(() => networkRequest(spec(), { network: 'none:host-loopback' }))).toBe(
      'launch: --network: `none:host-loopback`: :host-loopback is for pasta, slirp4netns, auto (none has no way out)',
    );
    expect(line(() => networkRequest(spec(), { network: 'host:host-loopback' }))).toContain("(host shares the host's loopback already)");
    expect(line(() => networkRequest(spec({ [NETWORK_ANNOTATION]: 'pasta:map-gw' }), {}))).toBe(
      'launch: annotations["run.launch.network"]: `pasta:map-gw`: the only option is :host-loopback',
    );
    expect(line(() => decide(spec(), { network: 'pasta:host-loopback' }, 'run', facts({ pasta: false })))).toBe(
      'launch: --network pasta:host-loopback: pasta is not installed (Debian: apt-get install passt)',
    );
  });

  it('auto is pasta, else slirp4netns, else loopback only with the reason', () => {
    expect(decide(spec(), { network: 'auto' })).toMatchObject({ mode: 'pasta', program: '/usr/bin/pasta' });
    expect(decide(spec(), { network: 'auto' }, 'run', facts({ pasta: false }))).toMatchObject({ mode: 'slirp4netns', program: '/usr/bin/slirp4netns' });
    const none = decide(spec(), { network: 'auto' }, 'run', facts({ tun: 'EACCES' }));
    expect(none.mode).toBe('none');
    expect(none.warning).toBe(`--network auto: loopback only, no user-mode networking: ${EACCES_FIX}`);
    expect(line(() => decide(spec(), { publish: ['8080:80'] }, 'run', facts({ pasta: false, slirp: false })))).toBe(
      'launch: --publish: publishing ports needs pasta or slirp4netns; neither can run here: pasta is not installed (Debian: apt-get install passt); slirp4netns is not installed (Debian: apt-get install slirp4netns)',
    );
  });

  it('create leaves the network to its caller unless asked', () => {
    expect(decide(spec(), {}, 'create').mode).toBe('config');
    expect(decide(spec({ [NETWORK_ANNOTATION]: 'pasta' }), {}, 'create').mode).toBe('pasta');
    expect(line(() => decide(spec({ [PUBLISH_ANNOTATION]: '80:80' }), {}, 'create'))).toBe(
      'launch: annotations["run.launch.publish"]: publishing ports needs pasta or slirp4netns; this verb leaves the network to its caller',
    );
  });

  it('a namespace joined by path, or none at all, is the caller\'s choice', () => {
    const joined = spec();
    joined.linux!.namespaces = joined.linux!.namespaces!.map((n) => (n.type === 'network' ? { ...n, path: '/run/netns/x' } : n));
    const index = joined.linux!.namespaces.findIndex((n) => n.type === 'network');
    expect(decide(joined, {}).mode).toBe('config');
    expect(line(() => decide(joined, { network: 'pasta' }))).toBe(
      `launch: --network pasta: the config joins the network namespace at linux.namespaces[${index}].path; remove its path to let launch make one`,
    );
    const host = spec();
    host.linux!.namespaces = host.linux!.namespaces!.filter((n) => n.type !== 'network');
    expect(decide(host, {}).mode).toBe('config');
    // -p needs a namespace and a helper: run (auto) makes both.
    const published = decide(host, { publish: ['8080:80'] });
    expect(published).toMatchObject({ mode: 'pasta', publish: [{ hostPort: 8080 }] });
    expect(netns(published.spec)).toEqual([{ type: 'network' }]);
    expect(published.notes[0]).toContain('--publish: added a network namespace');
    // Asked for: a namespace is added for the helper.
    const d = decide(host, { network: 'slirp4netns' });
    expect(d.mode).toBe('slirp4netns');
    expect(netns(d.spec)).toEqual([{ type: 'network' }]);
    expect(netns(host)).toEqual([]);
  });

  it('host drops the namespace, none keeps it; neither publishes', () => {
    const d = decide(spec(), { network: 'host' });
    expect(d.mode).toBe('host');
    expect(netns(d.spec)).toEqual([]);
    expect(netns(spec())).toHaveLength(1);
    expect(decide(spec(), { network: 'none' }).mode).toBe('none');
    expect(line(() => decide(spec(), { network: 'host', publish: ['80:80'] }))).toContain("--network host already uses the host's ports");
    expect(line(() => decide(spec(), { network: 'none', publish: ['80:80'] }))).toContain('--network none has no way in');
  });

  it('an explicit helper that cannot run is an error, not a silent fallback', () => {
    expect(line(() => decide(spec(), { network: 'pasta' }, 'run', facts({ pasta: false })))).toBe(
      'launch: --network pasta: pasta is not installed (Debian: apt-get install passt)',
    );
    expect(line(() => decide(spec({ [NETWORK_ANNOTATION]: 'slirp4netns' }), {}, 'run', facts({ tun: 'EACCES' })))).toBe(
      `launch: annotations["run.launch.network"]: slirp4netns: ${EACCES_FIX}`,
    );
  });

  // Seen failing on the code before: the cause (uid, errno) without the command that fixes it.
  it('an unusable /dev/net/tun is named with the command that fixes it, chosen by the errno', () => {
    expect(tunProblem({ errno: 'EACCES', loaded: true }, 1000)).toBe(EACCES_FIX);
    // Missing: the driver not loaded (modprobe makes the node), or loaded with no node (a /dev
    // of its own, as in a container: modprobe would do nothing).
    expect(tunProblem({ errno: 'ENOENT', loaded: false }, 1000)).toBe(
      "`/dev/net/tun` does not exist (ENOENT), and user-mode networking opens it in the container's namespace; fix: `sudo modprobe tun`",
    );
    expect(tunProblem({ errno: 'ENOENT', loaded: true }, 1000)).toBe(
      "`/dev/net/tun` does not exist (ENOENT), and user-mode networking opens it in the container's namespace; fix: `sudo mkdir -p /dev/net && sudo mknod -m 0666 /dev/net/tun c 10 200`",
    );
    expect(tunProblem({ errno: 'ENOENT', loaded: false }, 0)).toMatch(/; fix: `modprobe tun`$/);
    // No command known to fix it: the cause alone.
    expect(tunProblem({ errno: 'EPERM', loaded: true }, 1000)).toBe(
      "`/dev/net/tun` cannot be opened for reading and writing by uid 1000 (EPERM), and user-mode networking opens it in the container's namespace",
    );
  });

  // Seen failing on the code before: `-p` named the cause only, and the fallback of auto was a
  // --debug note, so a container silently had no network.
  it('-p with an unusable /dev/net/tun: one line with the fix; auto: one warning with the same text', () => {
    expect(line(() => decide(spec(), { publish: ['8080:80'] }, 'run', facts({ tun: 'EACCES' })))).toBe(
      `launch: --publish: publishing ports needs pasta or slirp4netns; neither can run here: ${EACCES_FIX}`,
    );
    const host = spec();
    host.linux!.namespaces = host.linux!.namespaces!.filter((n) => n.type !== 'network');
    expect(line(() => decide(host, { publish: ['8080:80'] }, 'run', facts({ tun: 'ENOENT', tunLoaded: false })))).toBe(
      "launch: --publish: publishing ports needs pasta or slirp4netns; neither can run here: `/dev/net/tun` does not exist (ENOENT), and user-mode networking opens it in the container's namespace; fix: `sudo modprobe tun`",
    );
    expect(line(() => decide(spec({ [PUBLISH_ANNOTATION]: '80:80', [NETWORK_ANNOTATION]: 'auto' }), {}, 'create', facts({ tun: 'EACCES' })))).toBe(
      `launch: annotations["run.launch.publish"]: publishing ports needs pasta or slirp4netns; neither can run here: ${EACCES_FIX}`,
    );
    // The warning names where auto was asked for; --debug does not repeat it.
    const annotated = decide(spec({ [NETWORK_ANNOTATION]: 'auto:host-loopback' }), {}, 'create', facts({ tun: 'EACCES' }));
    expect(annotated).toMatchObject({ mode: 'none', warning: `annotations["run.launch.network"]: auto:host-loopback: loopback only, no user-mode networking: ${EACCES_FIX}` });
    expect(annotated.notes.join('\n')).not.toContain('loopback only');
    // Helpers missing: the same warning, with their own fix.
    expect(decide(spec(), { network: 'auto' }, 'run', facts({ pasta: false, slirp: false })).warning).toBe(
      '--network auto: loopback only, no user-mode networking: pasta is not installed (Debian: apt-get install passt); slirp4netns is not installed (Debian: apt-get install slirp4netns)',
    );
  });

  it('no warning where the container has what was asked for', () => {
    const broken = facts({ tun: 'EACCES' });
    const host = spec();
    host.linux!.namespaces = host.linux!.namespaces!.filter((n) => n.type !== 'network');
    for (const d of [
      decide(spec(), {}, 'run', broken), // unasked: loopback only, as runc
      decide(spec(), { network: 'none' }, 'run', broken),
      decide(spec(), { network: 'host' }, 'run', broken),
      decide(host, { network: 'auto' }, 'run', broken), // auto without a namespace: the host's
      decide(spec(), {}, 'create', broken),
      decide(spec(), { network: 'auto' }, 'run', facts({ pasta: false })), // slirp4netns runs
    ]) expect(d.warning).toBeUndefined();
  });
});

describe('files', () => {
  const route = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
    'eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n' +
    'eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n';
  const ifaces = { eth0: [{ address: '192.0.2.2', family: 'IPv4' }] } as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;

  it('finds the default route and the address pasta copies', () => {
    expect(defaultRoute(route, ifaces)).toEqual({ iface: 'eth0', gateway: '192.0.2.1', address: '192.0.2.2' });
    expect(defaultRoute(route.split('\n').slice(0, 2).join('\n'), ifaces)).toBeUndefined();
  });

  it('resolv.conf keeps the host\'s search and options, hosts names the host\'s loopback only where it is reached', () => {
    expect(resolvConf([PASTA_DNS], 'nameserver 127.0.0.53\nsearch example.org\noptions edns0 trust-ad\n')).toBe(
      'nameserver 169.254.1.1\nsearch example.org\noptions edns0 trust-ad\n',
    );
    expect(hostsFile({ address: '10.0.2.100', gateway: '10.0.2.2', hostname: 'box' })).toBe(
      '127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost ip6-localhost ip6-loopback\n10.0.2.100\tbox\n10.0.2.2\thost.containers.internal host.docker.internal\n',
    );
    const route = { iface: 'eth0', gateway: '192.0.2.1', address: '192.0.2.2' };
    expect(networkFiles(decide(spec(), { network: 'pasta:host-loopback' }), 'runc', route)?.hosts).toContain('192.0.2.1\thost.containers.internal');
    expect(networkFiles(decide(spec(), { network: 'pasta' }), 'runc', route)?.hosts).toBe(
      '127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost ip6-localhost ip6-loopback\n192.0.2.2\trunc\n',
    );
    expect(networkFiles(decide(spec(), { network: 'slirp4netns' }), 'runc')?.hosts).not.toContain('host.containers.internal');
    expect(networkFiles(decide(spec(), { network: 'slirp4netns:host-loopback' }), 'runc')?.hosts).toContain('10.0.2.2\thost.containers.internal');
    expect(networkFiles(decide(spec(), { network: 'none' }), 'runc')).toBeUndefined();
  });

  it('binds them over /etc, unless the config mounts its own', () => {
    const dir = mkdtempSync(join(tmpdir(), 'launch-netfiles-'));
    try {
      const s = spec();
      s.mounts = [...(s.mounts ?? []), { destination: '/etc/hosts/', type: 'bind', source: '/etc/hosts', options: ['bind'] }];
      const out = withNetworkFiles(s, dir, { 'resolv.conf': 'nameserver 10.0.2.3\n', hosts: 'x\n' });
      const ours = out.mounts!.filter((m) => m.source?.startsWith(dir));
      expect(ours).toEqual([{ destination: '/etc/resolv.conf', type: 'bind', source: join(dir, 'resolv.conf'), options: ['bind', 'rprivate'] }]);
      expect(readFileSync(join(dir, 'resolv.conf'), 'utf8')).toBe('nameserver 10.0.2.3\n');
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});

describe('helper command lines', () => {
  it('pasta: only the published ports, nothing from the host into the container, no gateway to its loopback unless asked', () => {
    const publish = [parsePublish('8080:80', usage), parsePublish('127.0.0.1:5353:53/udp', usage)];
    const a = pastaArgs(publish, { pidFile: '/s/pasta.pid', userns: true, uid: 1000, hostLoopback: false });
    expect(a.join(' ')).toBe(
      '--config-net --quiet --pid /s/pasta.pid -t 8080:80 -u 127.0.0.1/5353:53 -T none -U none --no-map-gw --dns-forward 169.254.1.1 --netns /proc/self/fd/3 --userns /proc/self/fd/4',
    );
    expect(pastaArgs([], { pidFile: 'p', userns: false, uid: 0, hostLoopback: true }).join(' ')).toContain('-t none -u none -T none -U none --dns-forward 169.254.1.1 --runas 0:0 --netns /proc/self/fd/3');
  });

  it('slirp4netns: the API socket only when publishing; the host\'s loopback only when asked', () => {
    expect(slirpArgs({ userns: false, hostLoopback: false }).join(' ')).toBe('--configure --mtu=65520 --ready-fd=5 --disable-host-loopback --netns-type=path /proc/self/fd/3 tap0');
    expect(slirpArgs({ userns: true, apiSocket: '/s/slirp.sock', hostLoopback: true })).toContain('--api-socket=/s/slirp.sock');
    expect(slirpArgs({ userns: true, hostLoopback: true })).not.toContain('--disable-host-loopback');
  });

  it('`launch -p 8080:80 DIR` puts the run flags after `run`', () => {
    const ex = (argv: string[]) => expandShorthand(argv, (p) => p === 'b', () => 'ID');
    expect(ex(['--debug', '-p', '8080:80', '--network', 'pasta', 'b'])).toEqual(['--debug', 'run', '-p', '8080:80', '--network', 'pasta', '--bundle', 'b', 'ID']);
    expect(ex(['b', '-p', '8080:80'])).toEqual(['run', '--bundle', 'b', 'ID', '-p', '8080:80']);
  });
});
