/**
 * How a benchmark hands its figures to bench/run.ts: one line `BENCH {"name":..., "figures":{...}}`
 * on stdout, printed last; everything else it prints is for people.
 */
export type Figures = Record<string, number | string | Record<string, number>>;

export function report(name: string, figures: Figures): void {
  process.stdout.write(`BENCH ${JSON.stringify({ name, figures })}\n`);
}

const WORDS = [
  'GET',
  'POST',
  '/api/v1/orders',
  '/healthz',
  'user',
  'session',
  'timeout',
  'ok',
  'cache',
  'miss',
  'db',
  'query',
  'retry',
  'upstream',
  'served',
  'bytes',
  'ms',
  'eu-west-1',
  'worker',
  'shard',
];

/**
 * A 200-byte record (its JSON padded to exactly 200 bytes) with log-like text, so compression
 * ratios are those of real text rather than of a repeated character.
 */
export function record200(n: number): {
  kind: 'event';
  ts: number;
  name: string;
  attrs: Record<string, string | number>;
  source: string;
} {
  const base = {
    kind: 'event' as const,
    ts: 1_764_000_000_000 + n,
    name: 'bench.synthetic',
    attrs: { n, msg: '' } as Record<string, string | number>,
    source: 'bench',
  };
  let words = '';
  for (let i = 0; words.length < 160; i++) {
    words += `${WORDS[(n * 7 + i * 13 + ((n >> 3) ^ i)) % WORDS.length]} ${(n * 31 + i) % 997} `;
  }
  const room = 200 - Buffer.byteLength(JSON.stringify(base));
  base.attrs.msg = words.slice(0, Math.max(0, room));
  return base;
}

export function rate(count: number, ms: number): number {
  return Math.round((count / ms) * 1000);
}

/** A log line of exactly `bytes` bytes, newline included, with log-like words (as record200). */
export function logLine(n: number, bytes = 200): string {
  let line = `2026-01-01T00:00:${String(n % 60).padStart(2, '0')}.${String(n % 1000).padStart(3, '0')}Z INFO ${n}`;
  for (let i = 0; line.length < bytes; i++) {
    line += ` ${WORDS[(n * 7 + i * 13 + ((n >> 3) ^ i)) % WORDS.length]} ${(n * 31 + i) % 997}`;
  }
  return `${line.slice(0, bytes - 1)}\n`;
}
