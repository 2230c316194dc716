/** Plain aligned columns, as `kubectl get` prints them; the last column is never padded. */
export function table(headers: string[], rows: Array<Array<string | number | null | undefined>>): string {
  const cells = [
    headers,
    ...rows.map((row) => row.map((cell) => (cell === null || cell === undefined ? '-' : String(cell)))),
  ];
  const widths = headers.map((_, i) => Math.max(...cells.map((row) => row[i]?.length ?? 0)));
  return `${cells
    .map((row) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')}\n`;
}

export function ago(ts: number | null | undefined, now = Date.now()): string {
  if (!ts) return 'never';
  const s = Math.max(0, Math.round((now - ts) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86_400)}d ago`;
}

export function when(ts: number | null | undefined): string {
  return ts ? new Date(ts).toISOString().replace(/\.\d{3}Z$/, 'Z') : '-';
}

export function labels(value: Record<string, string> | null | undefined): string {
  const pairs = Object.entries(value ?? {}).map(([k, v]) => `${k}=${v}`);
  return pairs.length > 0 ? pairs.join(',') : '-';
}

/** A config or plugin target as an admin reads it. */
export function targetText(target: { agent: string } | { labels: Record<string, string> }): string {
  if ('agent' in target) return `agent ${target.agent}`;
  const pairs = labels(target.labels);
  return `labels ${pairs === '-' ? '(every agent)' : pairs}`;
}
