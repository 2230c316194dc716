import { Counter, Gauge, type Registry } from 'prom-client';

export type MetricLabels = Record<string, string>;

export interface ScrapedMetricOptions {
  type: 'counter' | 'gauge';
  name: string;
  help: string;
  labelNames: string[];
  registry: Registry;
  /** Called on each scrape; hands every current label set and value to `set`. */
  fill: (set: (labels: MetricLabels, value: number) => void) => void;
}

/**
 * A counter or gauge whose values are copied in from live state on each scrape. It is reset first:
 * a label set that went away (an input removed by a reload, a plugin uninstalled) must not linger
 * with its last value.
 */
export function defineScrapedMetric({
  type,
  name,
  help,
  labelNames,
  registry,
  fill,
}: ScrapedMetricOptions): void {
  const config = { name, help, labelNames, registers: [registry] };
  if (type === 'counter') {
    new Counter({
      ...config,
      collect() {
        this.reset();
        fill((labels, value) => this.inc(labels, value));
      },
    });
  } else {
    new Gauge({
      ...config,
      collect() {
        this.reset();
        fill((labels, value) => this.set(labels, value));
      },
    });
  }
}
