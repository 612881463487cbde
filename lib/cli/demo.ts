// `launch demo`: a real container with no image and no download. Its root filesystem is an
// empty directory plus a tiny /etc; the host's /usr, /bin, /lib... come in read-only.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoSpec } from '../spec/generate.js';
import { parseSpec } from '../spec/load.js';
import { runForeground } from '../runtime/run.js';
import type { GlobalOptions } from './main.js';

const SCRIPT = [
  'echo "hostname: $(hostname)"',
  'echo "pid:      $$"',
  'echo "user:     $(id)"',
  'echo "root fs:  $(ls / | tr "\\n" " ")"',
].join('; ');

export async function demoVerb(o: GlobalOptions & { args: string[] }): Promise<number> {
  const uid = process.getuid!();
  const gid = process.getgid!();
  const dir = mkdtempSync(join(tmpdir(), 'launch-demo-'));
  try {
    const etc = join(dir, 'rootfs', 'etc');
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(etc, 'passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/usr/sbin/nologin\n');
    writeFileSync(join(etc, 'group'), 'root:x:0:\nnogroup:x:65534:\n');
    writeFileSync(join(etc, 'hostname'), 'launch-demo\n');
    const spec = demoSpec({
      rootless: uid !== 0,
      uid,
      gid,
      args: o.args.length > 0 ? o.args : ['/bin/sh', '-c', SCRIPT],
      hostname: 'launch-demo',
    });
    writeFileSync(join(dir, 'config.json'), JSON.stringify(spec, null, 2));
    const id = `demo-${process.pid}`;
    return await runForeground(parseSpec(spec, join(dir, 'config.json')), {
      id,
      bundle: dir,
      stateRoot: o.root,
      debug: o.debug ? (line) => process.stderr.write(`launch: debug: ${line}\n`) : undefined,
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
