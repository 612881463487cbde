// The entry of the single executable (scripts/build-binary.mjs). It is built with a V8
// start-up snapshot: this file runs once at build time, where it loads and warms the code
// every start needs, and each start of the binary then begins in run(). Nothing here may read
// argv, env, cwd or the addon at build time: those belong to the run, not the build.
import * as v8 from 'node:v8';
import { isBinary, loadEmbeddedAddon } from '../runtime/embedded.js';
import { setAddonLoader } from '../runtime/native.js';
import { main, warmUp } from './main.js';

/** lib/image/userns.ts USERNS_VERB (not imported: that module is not needed at start-up). */
const USERNS_VERB = '__userns-job';

async function run(): Promise<void> {
  if (isBinary()) setAddonLoader(loadEmbeddedAddon);
  const argv = process.argv.slice(2);
  // The binary is its own user-namespace helper (lib/image/userns.ts): a library program, not
  // the command line, which a Node install runs as dist/image/userns-helper.js instead.
  if (argv[0] === USERNS_VERB) {
    process.exitCode = await (await import('../image/unpack-image.js')).serveUsernsJob(argv[1] ?? '{}');
    return;
  }
  process.exitCode = await main(argv);
}

if (v8.startupSnapshot?.isBuildingSnapshot()) {
  // The snapshot is taken once the event loop is empty: the warm-up is done by then.
  v8.startupSnapshot.setDeserializeMainFunction(() => void run());
  void warmUp();
} else {
  void run();
}
