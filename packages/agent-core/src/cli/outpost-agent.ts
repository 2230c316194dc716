#!/usr/bin/env node
import { relaunchWithDaemonFlags } from './daemon-flags.ts';

// Before the daemon's modules load, so a re-executed process does not load them twice.
relaunchWithDaemonFlags();
await import('./daemon.ts');
