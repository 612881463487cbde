// The entry of the single executable (scripts/build-binary.mjs). It is built with a V8
// start-up snapshot: this file runs once at build time, where it loads and warms the code
// every start needs, and each start of the binary then begins in run(). Nothing here may read
// argv, env, cwd or the addon at build time: those belong to the run, not the build.
import * as v8 from 'node:v8';
import { isBinary, loadEmbeddedAddon } from '../runtime/embedded.js';
import { setAddonLoader } from '../runtime/native.js';
import { main, warmUp } from './main.js';

async function run(): Promise<void> {
  if (isBinary()) setAddonLoader(loadEmbeddedAddon);
  process.exitCode = await main(process.argv.slice(2));
}

if (v8.startupSnapshot?.isBuildingSnapshot()) {
  // The snapshot is taken once the event loop is empty: the warm-up is done by then.
  v8.startupSnapshot.setDeserializeMainFunction(() => void run());
  void warmUp();
} else {
  void run();
}
