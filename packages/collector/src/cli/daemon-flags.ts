import type { NodeFlagsSpec } from '@outpost/service/node-flags';

/**
 * The V8 heap settings `outpost-collector serve` runs with; the bin re-executes itself with them
 * before it loads anything else (@outpost/service/node-flags). An operator's value wins, and
 * `NODE_OPTIONS=--max-semi-space-size=0` (V8's default) runs it without re-executing.
 *
 * Why (bench/logs-e2e.bench.ts, 1M log lines, collector CPU s per million lines, two runs each on a
 * loaded 2-core host): V8's default 7.5-8.0, 16 MB semi-spaces 7.1-7.7, 8 MB 7.5-7.7, 32 MB 8.1-8.3.
 * Each batch's parsed body and bound values die young; semi-spaces large enough to hold a few batches
 * let most of them die there instead of being copied.
 */
export const COLLECTOR_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];

export const COLLECTOR_FLAGS_SPEC: NodeFlagsSpec = {
  program: 'outpost-collector',
  nodeFlags: COLLECTOR_NODE_FLAGS,
  mallocTunables: [],
  marker: 'OUTPOST_COLLECTOR_DAEMON_FLAGS',
};

const CLIENT_OPTIONS = new Set(['-h', '--help', '-V', '--version']);

/**
 * Whether these arguments run the collector itself: `serve` is the default command, so no command,
 * or options first (other than help and version), run it too. Every other command is a client of a
 * running collector and keeps V8's defaults.
 */
export function servesCollector(args: readonly string[]): boolean {
  const first = args[0];
  if (first === undefined || first === 'serve') return true;
  return first.startsWith('-') && !CLIENT_OPTIONS.has(first);
}
