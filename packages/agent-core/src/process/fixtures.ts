import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import pino, { type Logger } from 'pino';
import { Pipeline, type PipelineOptions, processorsSchema } from './index.ts';

export const silent: Logger = pino({ level: 'silent' });

/** A logger that keeps every line it writes, parsed. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => lines.push(JSON.parse(line)) });
  return { logger, lines };
}

export const T0 = Date.UTC(2025, 0, 15, 12, 0, 0);

export function logLine(
  body: string,
  attrs: Record<string, AttrValue> = {},
  name = '/var/log/app.log',
): OutpostRecord {
  return { kind: 'log', ts: T0, name, body, attrs: { 'log.file.path': name, ...attrs }, source: 'log' };
}

export function metric(
  name: string,
  value: number,
  attrs: Record<string, AttrValue> = {},
  source = 'system',
): OutpostRecord {
  return { kind: 'metric', ts: T0, name, value, unit: 's', attrs, source };
}

/** A clock tests move by hand. */
export function manualClock(start = T0): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/**
 * A pipeline from config as written in YAML (validated by the real schema), with what it emits
 * collected; closed when the test ends.
 */
export function pipelineOf(
  stages: unknown[],
  options: Partial<PipelineOptions> = {},
): { pipeline: Pipeline; emitted: OutpostRecord[][] } {
  const emitted: OutpostRecord[][] = [];
  const pipeline = Pipeline.create(processorsSchema.parse(stages), {
    logger: silent,
    emit: (records) => emitted.push(records),
    ...options,
  });
  return { pipeline, emitted };
}

/** The stats line of one stage. */
export function statsOf(pipeline: Pipeline, stage: string) {
  const stats = pipeline.stats().find((s) => s.stage === stage);
  if (stats === undefined) throw new Error(`no stage ${stage} in ${pipeline.stages().join(', ')}`);
  return stats;
}
