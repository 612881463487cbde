// launch's own stdout and stderr may be pipes whose reader has gone (`launch --debug DIR 2>&1
// | head -1`, a shim that stopped reading). Node ignores SIGPIPE, so a write there fails with
// EPIPE, and Node reports it as an 'error' event on process.stdout/stderr; with no listener that
// is an uncaught exception, which ends launch wherever it waits next: after the state and the
// cgroups exist and before the teardown removes them. What launch says is advice to whoever
// reads; the container's own output goes to the fds themselves, not through these streams.

let quieted = false;

/** From main(), not at import time: nothing here may run while a start-up snapshot is built. */
export function ignoreClosedOutput(): void {
  if (quieted) return;
  quieted = true;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      // Anything else is still a bug to see; an EPIPE means nobody reads any more.
      if (err.code !== 'EPIPE') throw err;
    });
  }
}
