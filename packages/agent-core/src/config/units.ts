/**
 * Human-friendly durations and sizes, as ops people write them in config files.
 * Both parsers return `undefined` for anything they do not understand, so the schema can phrase
 * the error with the key and an example.
 */

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

// One or more number+unit parts, as Go and Prometheus accept them: "500ms", "1h30m", "1.5s".
const DURATION_RE = /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$/;
const DURATION_PART_RE = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/g;

/**
 * "500ms", "10s", "5m", "1h", "7d", "1h30m" → milliseconds (rounded to a whole ms). A bare 0 is
 * accepted; other bare numbers are not, because "10" could mean seconds or milliseconds.
 */
export function parseDuration(input: string | number): number | undefined {
  if (typeof input === 'number') return input === 0 ? 0 : undefined;
  const text = input.trim();
  if (text === '0') return 0;
  if (!DURATION_RE.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(DURATION_PART_RE)) {
    ms += Number(amount) * (DURATION_UNITS_MS[unit as string] as number);
  }
  ms = Math.round(ms);
  return Number.isSafeInteger(ms) ? ms : undefined;
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
  // Kubernetes spelling; unambiguous, unlike a bare "M" (Docker reads "256m" as MiB).
  ki: 2 ** 10,
  mi: 2 ** 20,
  gi: 2 ** 30,
  ti: 2 ** 40,
};

const SIZE_RE = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i;

/**
 * "512KiB", "1MiB", "256MiB", "1GiB" (binary), "1MB", "1GB" (decimal), "1024" or 1024 (bytes) →
 * bytes, rounded down to a whole byte. Units are case-insensitive.
 */
export function parseSize(input: string | number): number | undefined {
  if (typeof input === 'number') return Number.isSafeInteger(input) && input >= 0 ? input : undefined;
  const match = SIZE_RE.exec(input.trim());
  if (match === null) return undefined;
  const [, amount, unit] = match as unknown as [string, string, string];
  const factor = unit === '' ? 1 : SIZE_UNITS[unit.toLowerCase()];
  if (factor === undefined) return undefined;
  if (factor === 1 && amount.includes('.')) return undefined;
  const bytes = Math.floor(Number(amount) * factor);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
