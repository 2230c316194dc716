/**
 * `pnpm bench`: runs every benchmark of the project (bench/*.bench.ts and packages/* /bench/*.bench.ts),
 * one process each so they do not disturb one another, prints a table and writes
 * bench/results/<date>.json for later runs to be compared with. `pnpm bench crash plugins` runs only
 * the files whose path contains one of the words and updates their entries in that day's file,
 * keeping the others (each entry says when it was measured).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import type { Figures } from './report.ts';

const root = resolve(dirname(new URL(import.meta.url).pathname), '..');
const only = process.argv.slice(2);

function benchFiles(): string[] {
  const dirs = [join(root, 'bench')];
  for (const group of ['packages', 'plugins']) {
    for (const name of safeList(join(root, group))) dirs.push(join(root, group, name, 'bench'));
  }
  const files = dirs.flatMap((dir) =>
    safeList(dir)
      .filter((f) => f.endsWith('.bench.ts'))
      .map((f) => join(dir, f)),
  );
  // The crash harness takes longest; it goes last so the quick figures come first.
  files.sort(
    (a, b) =>
      Number(a.endsWith('crash.bench.ts')) - Number(b.endsWith('crash.bench.ts')) || a.localeCompare(b),
  );
  return only.length === 0 ? files : files.filter((f) => only.some((o) => f.includes(o)));
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function run(
  file: string,
): Promise<{ results: Array<{ name: string; figures: Figures }>; code: number | null }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [file], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    const results: Array<{ name: string; figures: Figures }> = [];
    let buffered = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.startsWith('BENCH ')) results.push(JSON.parse(line.slice(6)));
        else process.stdout.write(`  ${line}\n`);
      }
    });
    child.on('exit', (code) => done({ results, code }));
  });
}

const started = new Date();
const all: Record<string, Figures> = {};
const failed: string[] = [];
for (const file of benchFiles()) {
  const name = relative(root, file);
  process.stdout.write(`== ${name}\n`);
  const t0 = performance.now();
  const { results, code } = await run(file);
  if (code !== 0) failed.push(`${name} (exit ${code})`);
  for (const r of results) {
    all[r.name] = {
      ...r.figures,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      measured_at: new Date().toISOString(),
    };
  }
}
const ran = benchFiles().map((file) => relative(root, file));

process.stdout.write('\nbenchmark   figure                          value\n');
for (const [bench, figures] of Object.entries(all)) {
  for (const [key, value] of Object.entries(figures)) {
    process.stdout.write(
      `${bench.padEnd(11)} ${key.padEnd(31)} ${typeof value === 'object' ? JSON.stringify(value) : value}\n`,
    );
  }
}

const stamp = started.toISOString().slice(0, 10);
const out = join(root, 'bench', 'results', `${stamp}.json`);
mkdirSync(dirname(out), { recursive: true });
interface ResultsFile {
  date: string;
  machine: Record<string, unknown>;
  results: Record<string, Figures>;
  failed: string[];
  partial_runs?: Array<{ date: string; benches: string[] }>;
}
// A filtered run updates the day's file: what it ran replaces the old entries, the rest stays.
const earlier: ResultsFile | null =
  only.length > 0 && existsSync(out) ? (JSON.parse(readFileSync(out, 'utf8')) as ResultsFile) : null;
const merged: ResultsFile = {
  date: earlier?.date ?? started.toISOString(),
  machine: {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
  },
  results: { ...earlier?.results, ...all },
  failed: [...(earlier?.failed.filter((f) => !ran.some((name) => f.startsWith(name))) ?? []), ...failed],
  ...(only.length > 0 && {
    partial_runs: [...(earlier?.partial_runs ?? []), { date: started.toISOString(), benches: ran }],
  }),
};
// Figures that only make sense across benchmarks measured on the same day's machine state.
const e2e = merged.results.e2e?.end_to_end_per_s;
const floor = merged.results.floor?.floor_per_s;
if (typeof e2e === 'number' && typeof floor === 'number') {
  merged.results.summary = {
    end_to_end_per_s: e2e,
    floor_per_s: floor,
    ratio_to_floor: Number((e2e / floor).toFixed(3)),
  };
  process.stdout.write(
    `${'summary'.padEnd(11)} ${'ratio_to_floor'.padEnd(31)} ${merged.results.summary.ratio_to_floor}\n`,
  );
}
writeFileSync(out, `${JSON.stringify(merged, null, 2)}\n`);
process.stdout.write(`\nwritten to ${relative(root, out)}\n`);
if (failed.length > 0) {
  process.stderr.write(`failed: ${failed.join(', ')}\n`);
  process.exitCode = 1;
}
