// The program the user-namespace helper runs (userns.ts runInUserns): `node userns-helper.js
// JOB`, as root of the namespace. It does the job, writes the result file the job names, and
// exits 0 or 1; the caller reads the result, not the exit code alone. Not imported by
// anything: it is an entry, and reads its argv when run.
import { serveUsernsJob } from './unpack-image.js';

process.exitCode = await serveUsernsJob(process.argv[2] ?? '{}');
