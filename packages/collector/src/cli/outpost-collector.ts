#!/usr/bin/env node
import { relaunchWithNodeFlags } from '@outpost/service/node-flags';
import { COLLECTOR_FLAGS_SPEC, servesCollector } from './daemon-flags.ts';

// Before the collector's modules load, so a re-executed process does not load them twice.
if (servesCollector(process.argv.slice(2))) relaunchWithNodeFlags(COLLECTOR_FLAGS_SPEC);
const { runCli } = await import('./index.ts');

// process.exit rather than exitCode: a keep-alive socket left by a client must not hold the
// process open after a clean shutdown.
process.exit(await runCli(process.argv));
