/**
 * Log file input throughput: a file of 200-byte lines read into a real queue file (block policy,
 * durability normal, as the agent runs it). Prints lines/s, CPU seconds per million lines and peak RSS.
 *   bash scripts/with-toolchain.sh node packages/agent-core/bench/logfile.bench.ts [lines=1000000] [--tail]
 * Without --tail the file is written first and then read; with --tail the input starts on an empty
 * file and follows it while another process writes it. The file is written by a child process, so
 * the RSS measured here is the reader's alone.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { report } from '../../../bench/report.ts';
import { LogFileInput } from '../src/collect/index.ts';
import { Queue } from '../src/queue/index.ts';

const LINE_BYTES = 200;

if (process.argv[2] === '--write') {
  writeLines(process.argv[3] as string, Number(process.argv[4]));
} else {
  await bench(
    Number(process.argv.find((a, i) => i >= 2 && /^\d+$/.test(a)) ?? 1_000_000),
    process.argv.includes('--tail'),
  );
}

function writeLines(file: string, lines: number): void {
  const fd = fs.openSync(file, 'a');
  const perWrite = 5000;
  const chunk = Buffer.alloc(perWrite * LINE_BYTES, 'x');
  for (let i = 0; i < lines; i += perWrite) {
    const count = Math.min(perWrite, lines - i);
    for (let j = 0; j < count; j++) {
      const at = j * LINE_BYTES;
      chunk.write(`2026-01-01T00:00:00.000Z INFO request ${i + j} `, at, 'latin1');
      chunk[at + LINE_BYTES - 1] = 10;
    }
    fs.writeSync(fd, chunk, 0, count * LINE_BYTES);
  }
  fs.closeSync(fd);
}

async function bench(lines: number, tail: boolean): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'outpost-logfile-bench-'));
  const logger = pino({ level: 'silent' });
  const file = path.join(dir, 'app.log');
  const write = async () => {
    const child = spawn(process.execPath, [import.meta.filename, '--write', file, String(lines)], {
      stdio: 'inherit',
    });
    const [code] = await once(child, 'exit');
    if (code !== 0) throw new Error(`the writer exited with ${code}`);
  };
  try {
    fs.writeFileSync(file, '');
    if (!tail) await write();
    const queue = Queue.open({
      path: path.join(dir, 'queue.db'),
      maxBytes: 64 * 2 ** 30,
      policy: 'block',
      durability: 'normal',
      logger,
    });
    let committed = 0;
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const input = new LogFileInput({
      name: 'bench',
      paths: [path.join(dir, '*.log')],
      startAt: 'beginning',
      emit: async (records, options) => {
        queue.enqueue(records, options);
        committed += records.length;
        if (committed >= lines) done();
        return true;
      },
      readCursors: (prefix) => queue.cursors(prefix),
      logger,
    });
    const rssBeforeStart = process.memoryUsage.rss();
    let peakRss = rssBeforeStart;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }, 50);
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    input.start();
    const writing = tail ? write() : Promise.resolve();
    await finished;
    await writing;
    const seconds = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    clearInterval(sampler);
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    await input.close();
    const depth = queue.stats().depth;
    await queue.close();
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const mib = (bytes: number) => +(bytes / 2 ** 20).toFixed(1);
    console.log(
      JSON.stringify(
        {
          mode: tail ? 'tail (written while read)' : 'read an existing file',
          lines,
          lineBytes: LINE_BYTES,
          fileMiB: mib(lines * LINE_BYTES),
          queued: depth,
          seconds: +seconds.toFixed(2),
          linesPerSecond: Math.round(lines / seconds),
          cpuSecondsPerMillionLines: +((cpuSeconds * 1e6) / lines).toFixed(2),
          rssBeforeStartMiB: mib(rssBeforeStart),
          peakRssMiB: mib(peakRss),
        },
        null,
        2,
      ),
    );
    report('logfile', {
      lines,
      lines_per_s: Math.round(lines / seconds),
      cpu_s_per_million: +((cpuSeconds * 1e6) / lines).toFixed(2),
      peak_rss_mb: mib(peakRss),
    });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
