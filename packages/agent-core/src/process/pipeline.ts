import type { OutpostRecord } from '@outpost/plugin-sdk';
import type { Logger } from 'pino';
import { Aggregator } from './aggregate.ts';
import { compileCondition, type Predicate } from './condition.ts';
import { pipelineClosed, processorPluginUnknown, unknownTapStage } from './errors.ts';
import { createFilter } from './filter.ts';
import { createParse } from './parse.ts';
import { createRateLimit, createSample } from './sample.ts';
import type { ProcessorConfig, ProcessorsConfig, ProcessorType } from './schema.ts';
import { type ApplyRecord, onceLogger, type StageContext, type StageCounters } from './stage.ts';
import { createTransform } from './transform.ts';

/** A process plugin as the plugin system hands it over: a batch in, a batch out. */
export type ProcessPlugin = (records: OutpostRecord[]) => Promise<OutpostRecord[]>;
export type ResolvePlugin = (name: string) => ProcessPlugin | undefined;
export type TapListener = (records: OutpostRecord[]) => void;

export interface PipelineOptions {
  logger: Logger;
  /** Receives what the chain produces outside process(): windows closed by a timer or by close(). */
  emit: (records: OutpostRecord[]) => void;
  resolvePlugin?: ResolvePlugin;
  /** Unix ms; injected by tests to drive aggregate windows and rate limits. */
  now?: () => number;
}

export interface StageStats {
  stage: string;
  type: ProcessorType;
  in: number;
  out: number;
  /** Records a filter, sample or rate_limit removed on purpose. */
  dropped: number;
  /** Unparsable lines (kept and flagged), failed plugin calls (records passed through). */
  errors: number;
}

interface Stage {
  readonly name: string;
  readonly type: ProcessorType;
  readonly index: number;
  readonly counters: StageCounters;
  /** Records it does not select pass through untouched. */
  readonly match: Predicate | undefined;
  readonly apply: ApplyRecord | undefined;
  readonly aggregator: Aggregator | undefined;
  readonly plugin: ProcessPlugin | undefined;
  readonly warn: (message: string, details?: Record<string, unknown>) => void;
  timer: NodeJS.Timeout | undefined;
}

/**
 * The processor chain between collect and queue. Stages never mutate the records they are given:
 * a stage that changes a record passes on a copy, so a tap, or the caller, keeps what it saw.
 * Without a plugin stage the whole chain runs synchronously inside process().
 *
 * Reload builds a new Pipeline from the new config; close() on the old one flushes its open
 * aggregate windows through `emit`, so a reload loses no window, it only ends one early.
 */
export class Pipeline {
  readonly #stages: Stage[];
  /** Listeners per tap point: 0 is "input", i + 1 is after stage i, the last is "output". */
  readonly #taps: Array<Set<TapListener>>;
  readonly #tapNames: string[];
  readonly #emit: (records: OutpostRecord[]) => void;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #warn: (message: string, details?: Record<string, unknown>) => void;
  readonly #inFlight = new Set<Promise<unknown>>();
  #closed = false;
  #closing: Promise<void> | undefined;

  static create(config: ProcessorsConfig, options: PipelineOptions): Pipeline {
    const now = options.now ?? Date.now;
    const stages = config.map((stageConfig, index) => buildStage(stageConfig, index, options, now));
    return new Pipeline(stages, options, now);
  }

  private constructor(stages: Stage[], options: PipelineOptions, now: () => number) {
    this.#stages = stages;
    this.#emit = options.emit;
    this.#logger = options.logger;
    this.#now = now;
    this.#warn = onceLogger(options.logger);
    this.#tapNames = ['input', ...stages.map((s) => s.name), 'output'];
    this.#taps = this.#tapNames.map(() => new Set());
    for (const stage of stages) if (stage.aggregator !== undefined) this.#scheduleWindow(stage);
  }

  /** Runs the chain in order; records keep their order. Closed aggregate windows come out here too. */
  process(records: OutpostRecord[]): Promise<OutpostRecord[]> {
    if (this.#closed) return Promise.reject(pipelineClosed('process'));
    try {
      this.#tapAt(0, records);
      const result = this.#runFrom(0, records);
      return result instanceof Promise ? this.#track(result) : Promise.resolve(result);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * Calls `listener` with each batch leaving a point of the chain ("input", a stage name, or
   * "output"), e.g. for `agentctl tap`. The listener must not modify the records. Returns the
   * unsubscribe function.
   */
  tap(stage: string, listener: TapListener): () => void {
    if (this.#closed) throw pipelineClosed('tap');
    const index = this.#tapNames.indexOf(stage);
    if (index === -1) throw unknownTapStage(stage, this.#tapNames);
    const listeners = this.#taps[index] as Set<TapListener>;
    // A wrapper per call, so the same function tapped twice is unsubscribed once per tap.
    const entry: TapListener = (records) => listener(records);
    listeners.add(entry);
    return () => {
      listeners.delete(entry);
    };
  }

  /** Stage names in order. */
  stages(): string[] {
    return this.#stages.map((s) => s.name);
  }

  stats(): StageStats[] {
    return this.#stages.map(({ name, type, counters }) => ({
      stage: name,
      type,
      in: counters.in,
      out: counters.out,
      dropped: counters.dropped,
      errors: counters.errors,
    }));
  }

  /** Waits for process() calls in flight, then flushes open aggregate windows through `emit`. */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    this.#closed = true;
    for (const stage of this.#stages) clearTimeout(stage.timer);
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    // In chain order, so a later aggregate receives an earlier one's last window before it flushes.
    for (const stage of this.#stages) {
      if (stage.aggregator === undefined) continue;
      const records = stage.aggregator.flush(this.#now());
      if (records.length === 0) continue;
      stage.counters.out += records.length;
      this.#tapAt(stage.index + 1, records);
      this.#deliver(await this.#runFrom(stage.index + 1, records));
    }
  }

  #track<T>(promise: Promise<T>): Promise<T> {
    this.#inFlight.add(promise);
    const forget = () => this.#inFlight.delete(promise);
    promise.then(forget, forget);
    return promise;
  }

  #runFrom(start: number, records: OutpostRecord[]): OutpostRecord[] | Promise<OutpostRecord[]> {
    let current = records;
    for (let i = start; i < this.#stages.length; i++) {
      const stage = this.#stages[i] as Stage;
      if (stage.plugin !== undefined) {
        return this.#runPlugin(stage, stage.plugin, current).then((out) => {
          this.#tapAt(i + 1, out);
          return this.#runFrom(i + 1, out);
        });
      }
      current = this.#runRecords(stage, stage.apply as ApplyRecord, current);
      this.#tapAt(i + 1, current);
    }
    this.#tapAt(this.#stages.length + 1, current);
    return current;
  }

  #runRecords(stage: Stage, apply: ApplyRecord, records: OutpostRecord[]): OutpostRecord[] {
    const { match, counters } = stage;
    // Checked per batch too, so a window closes on time even when the timer runs late.
    const out = stage.aggregator === undefined ? [] : stage.aggregator.takeDue(this.#now());
    for (let i = 0; i < records.length; i++) {
      const record = records[i] as OutpostRecord;
      if (match !== undefined && !match(record)) {
        out.push(record);
        continue;
      }
      const result = apply(record);
      if (result !== null) out.push(result);
    }
    counters.in += records.length;
    counters.out += out.length;
    return out;
  }

  async #runPlugin(stage: Stage, plugin: ProcessPlugin, records: OutpostRecord[]): Promise<OutpostRecord[]> {
    const { match, counters } = stage;
    counters.in += records.length;
    const selected = match === undefined ? records : records.filter(match);
    let out = records;
    if (selected.length > 0) {
      try {
        const result = await plugin(selected);
        if (!Array.isArray(result))
          throw new TypeError(`it returned ${typeof result}, not a list of records`);
        out = match === undefined ? result : spliceSelected(records, match, result);
      } catch (err) {
        counters.errors++;
        stage.warn(`process plugin failed, its records pass through unchanged: ${(err as Error).message}`);
      }
    }
    counters.out += out.length;
    return out;
  }

  #scheduleWindow(stage: Stage): void {
    const aggregator = stage.aggregator as Aggregator;
    // Capped at one window, so an injected clock that does not move cannot stall the timer.
    const delay = Math.min(Math.max(aggregator.windowEnd - this.#now(), 0), aggregator.windowMs);
    stage.timer = setTimeout(() => this.#onWindowEnd(stage, aggregator), delay);
    stage.timer.unref();
  }

  #onWindowEnd(stage: Stage, aggregator: Aggregator): void {
    if (this.#closed) return;
    const records = aggregator.takeDue(this.#now());
    if (records.length > 0) {
      stage.counters.out += records.length;
      this.#tapAt(stage.index + 1, records);
      const out = this.#runFrom(stage.index + 1, records);
      if (out instanceof Promise) this.#track(out.then((r) => this.#deliver(r)));
      else this.#deliver(out);
    }
    this.#scheduleWindow(stage);
  }

  #deliver(records: OutpostRecord[]): void {
    if (records.length === 0) return;
    try {
      this.#emit(records);
    } catch (err) {
      this.#logger.error({ err, records: records.length }, 'emit of aggregate windows failed');
    }
  }

  #tapAt(index: number, records: OutpostRecord[]): void {
    const listeners = this.#taps[index] as Set<TapListener>;
    if (listeners.size === 0 || records.length === 0) return;
    for (const listener of listeners) {
      try {
        listener(records);
      } catch (err) {
        this.#warn(`a tap listener on "${this.#tapNames[index]}" threw: ${(err as Error).message}`);
      }
    }
  }
}

/** The plugin's output takes the place of the first record it was given; the others keep their order. */
function spliceSelected(
  records: OutpostRecord[],
  match: Predicate,
  result: OutpostRecord[],
): OutpostRecord[] {
  const out: OutpostRecord[] = [];
  let placed = false;
  for (const record of records) {
    if (!match(record)) out.push(record);
    else if (!placed) {
      for (const r of result) out.push(r);
      placed = true;
    }
  }
  return out;
}

function buildStage(
  config: ProcessorConfig,
  index: number,
  options: PipelineOptions,
  now: () => number,
): Stage {
  const logger = options.logger.child(
    config.type === 'plugin' ? { processor: config.name, plugin: config.plugin } : { processor: config.name },
  );
  const counters: StageCounters = { in: 0, out: 0, dropped: 0, errors: 0 };
  const context: StageContext = { counters, logger, now };
  let apply: ApplyRecord | undefined;
  let aggregator: Aggregator | undefined;
  let plugin: ProcessPlugin | undefined;
  switch (config.type) {
    case 'parse':
      apply = createParse(config, context);
      break;
    case 'filter':
      apply = createFilter(config, context);
      break;
    case 'transform':
      apply = createTransform(config);
      break;
    case 'aggregate': {
      const windows = new Aggregator(config, now());
      aggregator = windows;
      apply = (record) => windows.add(record);
      break;
    }
    case 'sample':
      apply = createSample(config, context);
      break;
    case 'rate_limit':
      apply = createRateLimit(config, context);
      break;
    case 'plugin':
      plugin = options.resolvePlugin?.(config.plugin);
      if (plugin === undefined) {
        throw processorPluginUnknown(index, config.name, config.plugin, options.resolvePlugin !== undefined);
      }
      break;
  }
  return {
    name: config.name,
    type: config.type,
    index,
    counters,
    match: config.match === undefined ? undefined : compileCondition(config.match),
    apply,
    aggregator,
    plugin,
    warn: onceLogger(logger),
    timer: undefined,
  };
}
