import { definePlugin, type OutpostRecord, type RecordInput } from '@outpost/plugin-sdk';

export interface PatternConfig {
  name: string;
  regex: string;
  flags: string;
}

export interface LogPatternConfig {
  patterns: PatternConfig[];
  windowMs: number;
  maxSampleChars: number;
}

/** The open window, kept in ctx.state so a restart does not lose or double-count it. */
type WindowState = { start: number; counts: Record<string, number> };

const STATE_KEY = 'window';

let compiled: { name: string; re: RegExp }[] | undefined;

function patterns(config: LogPatternConfig): { name: string; re: RegExp }[] {
  compiled ??= config.patterns.map((p) => ({ name: p.name, re: new RegExp(p.regex, `${p.flags}g`) }));
  return compiled;
}

function countMatches(re: RegExp, text: string): number {
  // String#match with a g regex counts every match and steps over empty ones.
  return text.match(re)?.length ?? 0;
}

function closedWindowMetrics(window: WindowState, config: LogPatternConfig): RecordInput[] {
  return config.patterns.map((p) => ({
    kind: 'metric',
    name: 'log.pattern.count',
    ts: window.start + config.windowMs,
    value: window.counts[p.name] ?? 0,
    unit: '1',
    attrs: { pattern: p.name, window_start: window.start, window_ms: config.windowMs },
  }));
}

export default definePlugin<LogPatternConfig>({
  start(ctx) {
    // Compile at load so a bad regex fails the plugin at once, naming the pattern.
    for (const p of ctx.config.patterns) {
      try {
        new RegExp(p.regex, `${p.flags}g`);
      } catch (err) {
        throw new Error(`pattern "${p.name}": ${(err as Error).message}`);
      }
    }
    compiled = undefined;
    patterns(ctx.config);
  },

  async process(records: OutpostRecord[], ctx) {
    const { windowMs } = ctx.config;
    const now = ctx.clock.now();
    const currentStart = now - (now % windowMs);
    let window = await ctx.state.get<WindowState>(STATE_KEY);
    if (window !== undefined && window.start !== currentStart) {
      ctx.emit(closedWindowMetrics(window, ctx.config));
      window = undefined;
    }
    window ??= { start: currentStart, counts: {} };

    for (const record of records) {
      if (record.kind !== 'log' || record.body === undefined) continue;
      for (const { name, re } of patterns(ctx.config)) {
        const n = countMatches(re, record.body);
        if (n === 0) continue;
        const before = window.counts[name] ?? 0;
        window.counts[name] = before + n;
        if (before === 0) {
          ctx.emit({
            kind: 'event',
            name: 'log.pattern.match',
            body: record.body.slice(0, ctx.config.maxSampleChars),
            attrs: { pattern: name, record_source: record.source, record_name: record.name },
          });
        }
      }
    }
    await ctx.state.set(STATE_KEY, window);
    return records;
  },
});
