#!/usr/bin/env node
import { runCli } from './index.ts';

// process.exit rather than exitCode: a keep-alive socket left by a client must not hold the
// process open after a clean shutdown.
process.exit(await runCli(process.argv));
