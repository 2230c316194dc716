import type { Logger } from 'pino';
import { guardClosed } from './errors.ts';

/** One reading of the agent's own usage: CPU share of one core over the last interval, and RSS. */
export interface UsageSample {
  cpuPercent: number;
  rssBytes: number;
}

/** What the guard can do to shed load; each step is undone in reverse order. */
export interface LoadShedding {
  /** Collect every interval x factor (1 restores the configured intervals). */
  slowInputs(factor: number): void;
  /** Pauses the plugin using the most CPU; resolves its name, or null when there is none to pause. */
  pauseHeaviestPlugin?(): Promise<string | null>;
  /** Resumes every plugin the guard paused. */
  resumePlugins?(): Promise<void>;
}

export interface ResourceGuardOptions {
  /** null switches a limit off. cpuPercent is a share of one core, e.g. 15. */
  limits: { cpuPercent: number | null; memoryBytes: number | null };
  intervalMs: number;
  shedding: LoadShedding;
  logger: Logger;
  /** Where readings come from; the process's own cpuUsage and RSS by default. Tests inject one. */
  sample?: () => UsageSample;
  /** Readings in a row over a limit before one more step is taken (default 2: one spike is not load). */
  overSamples?: number;
  /** Readings in a row under `restoreRatio` x limit before one step is undone (default 3). */
  underSamples?: number;
  restoreRatio?: number;
}

export type GuardAction = 'slow_inputs' | 'pause_plugin' | 'resume_plugins' | 'restore_inputs';

export interface GuardStatus {
  limits: { cpuPercent: number | null; memoryBytes: number | null };
  /** 0 normal, 1 inputs at half speed, 2 at a quarter, 3 also the heaviest plugin paused. */
  level: number;
  inputSlowdown: number;
  pausedPlugins: string[];
  last: UsageSample | null;
  actions: Record<GuardAction, number>;
}

/** Slowdown factor of the inputs at each level; the last level adds pausing a plugin. */
const SLOWDOWN = [1, 2, 4, 4] as const;
const MAX_LEVEL = SLOWDOWN.length - 1;

/** The process's own CPU share since the previous call, and its RSS. */
export function processUsageSampler(): () => UsageSample {
  let lastCpu = process.cpuUsage();
  let lastAt = performance.now();
  return () => {
    const now = performance.now();
    const cpu = process.cpuUsage(lastCpu);
    const elapsedMs = now - lastAt;
    lastCpu = process.cpuUsage();
    lastAt = now;
    return {
      cpuPercent: elapsedMs > 0 ? ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100 : 0,
      rssBytes: process.memoryUsage.rss(),
    };
  };
}

/**
 * Watches the agent's own CPU and RSS against its limits and sheds load one step at a time before
 * the service manager acts (systemd's MemoryMax kills, CPUQuota throttles everything including the
 * sender): first the inputs collect less often, then the heaviest plugin is paused. Steps are
 * undone one at a time once usage has stayed well under the limits, so it does not flap.
 */
export class ResourceGuard {
  readonly #options: ResourceGuardOptions;
  readonly #sample: () => UsageSample;
  readonly #overSamples: number;
  readonly #underSamples: number;
  readonly #restoreRatio: number;
  #level = 0;
  #over = 0;
  #under = 0;
  #last: UsageSample | null = null;
  #paused: string[] = [];
  readonly #actions: Record<GuardAction, number> = {
    slow_inputs: 0,
    pause_plugin: 0,
    resume_plugins: 0,
    restore_inputs: 0,
  };
  #timer: NodeJS.Timeout | undefined;
  #checking: Promise<void> | null = null;
  #closing: Promise<void> | null = null;

  constructor(options: ResourceGuardOptions) {
    if (!(options.intervalMs > 0))
      throw new RangeError(`intervalMs must be positive, got ${options.intervalMs}`);
    this.#options = options;
    this.#sample = options.sample ?? processUsageSampler();
    this.#overSamples = options.overSamples ?? 2;
    this.#underSamples = options.underSamples ?? 3;
    this.#restoreRatio = options.restoreRatio ?? 0.8;
  }

  /** Starts sampling every intervalMs. Safe to call twice. */
  start(): void {
    if (this.#closing) throw guardClosed('start');
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.check(), this.#options.intervalMs);
    this.#timer.unref();
  }

  /** Takes one reading and acts on it; readings never overlap. */
  check(): Promise<void> {
    if (this.#closing) return Promise.reject(guardClosed('check'));
    this.#checking ??= this.#check()
      .catch((err: unknown) => this.#options.logger.error({ err }, 'resource guard: check failed'))
      .finally(() => {
        this.#checking = null;
      });
    return this.#checking;
  }

  status(): GuardStatus {
    return {
      limits: { ...this.#options.limits },
      level: this.#level,
      inputSlowdown: SLOWDOWN[this.#level] ?? 1,
      pausedPlugins: [...this.#paused],
      last: this.#last,
      actions: { ...this.#actions },
    };
  }

  /** The factor new inputs (after a reload) start with. */
  get inputSlowdown(): number {
    return SLOWDOWN[this.#level] ?? 1;
  }

  /** Stops sampling and undoes every step, so a closed guard leaves nothing slowed or paused. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      clearInterval(this.#timer);
      await this.#checking;
      while (this.#level > 0) await this.#stepDown(this.#last);
    })();
    return this.#closing;
  }

  async #check(): Promise<void> {
    const usage = this.#sample();
    this.#last = usage;
    const { cpuPercent, memoryBytes } = this.#options.limits;
    const over =
      (cpuPercent !== null && usage.cpuPercent > cpuPercent) ||
      (memoryBytes !== null && usage.rssBytes > memoryBytes);
    const wellUnder =
      (cpuPercent === null || usage.cpuPercent < cpuPercent * this.#restoreRatio) &&
      (memoryBytes === null || usage.rssBytes < memoryBytes * this.#restoreRatio);
    this.#over = over ? this.#over + 1 : 0;
    this.#under = wellUnder ? this.#under + 1 : 0;
    if (this.#over >= this.#overSamples && this.#level < MAX_LEVEL) {
      this.#over = 0;
      await this.#stepUp(usage);
    } else if (this.#under >= this.#underSamples && this.#level > 0) {
      this.#under = 0;
      await this.#stepDown(usage);
    }
  }

  async #stepUp(usage: UsageSample): Promise<void> {
    const { shedding, logger, limits } = this.#options;
    const next = this.#level + 1;
    const context = { usage, limits, level: next };
    if (next === MAX_LEVEL) {
      const paused = shedding.pauseHeaviestPlugin ? await shedding.pauseHeaviestPlugin() : null;
      // Nothing to pause: stay where we are, the inputs are already as slow as the guard makes them.
      if (paused === null) return;
      this.#paused.push(paused);
      this.#actions.pause_plugin++;
      logger.warn({ ...context, plugin: paused }, `resource guard: over the limits, paused plugin ${paused}`);
    } else {
      shedding.slowInputs(SLOWDOWN[next] as number);
      this.#actions.slow_inputs++;
      logger.warn(
        { ...context, slowdown: SLOWDOWN[next] },
        `resource guard: over the limits, inputs now collect ${SLOWDOWN[next]}x less often`,
      );
    }
    this.#level = next;
  }

  async #stepDown(usage: UsageSample | null): Promise<void> {
    const { shedding, logger, limits } = this.#options;
    const next = this.#level - 1;
    const context = { usage, limits, level: next };
    if (this.#level === MAX_LEVEL) {
      await shedding.resumePlugins?.();
      this.#actions.resume_plugins++;
      logger.info(
        { ...context, plugins: this.#paused },
        'resource guard: back under the limits, plugins resumed',
      );
      this.#paused = [];
    } else {
      shedding.slowInputs(SLOWDOWN[next] as number);
      this.#actions.restore_inputs++;
      logger.info(
        { ...context, slowdown: SLOWDOWN[next] },
        next === 0
          ? 'resource guard: back under the limits, inputs at their configured intervals'
          : `resource guard: usage falling, inputs now at ${SLOWDOWN[next]}x their intervals`,
      );
    }
    this.#level = next;
  }
}
