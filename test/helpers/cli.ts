// The command line as main() prepares it and as yargs then reads it, without running a verb:
// shared by the unit tests of the flags and of the `launch DIR` shorthand.
import { execArgv } from '../../lib/cli/exec.js';
import type { Args } from '../../lib/cli/handlers.js';
import { expandShorthand, joinDashValues } from '../../lib/cli/main.js';
import { buildParser } from '../../lib/cli/parser.js';

/** main()'s words before parsing, with `b` the one directory. */
export const prepare = (argv: string[]) => expandShorthand(execArgv(joinDashValues(argv)), (p) => p === 'b', () => 'ID');

export async function viaYargs(argv: string[]): Promise<{ verb: string; args: Args }> {
  let got: { verb: string; args: Args } | undefined;
  await buildParser(argv, (verb) => async (args) => void (got = { verb, args }))
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new Error(msg);
    })
    .parseAsync();
  return got!;
}
