#!/usr/bin/env node
// The command on Node: everything is in lib/cli (compiled to dist/cli). bin/launch runs it
// through the native front (addon/front), which takes the hot verbs itself.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
