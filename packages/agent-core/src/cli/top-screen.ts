import type { TopSnapshot } from '../lifecycle/index.ts';
import { formatBytes } from './format.ts';

/** What `agentctl top` shows: rates over the time between two snapshots, current sizes from the later one. */
export interface TopView {
  at: number;
  intervalSec: number;
  pid: number;
  cpuPercent: number;
  rssBytes: number;
  heapUsedBytes: number;
  queue: TopSnapshot['queue'] & { inPerSec: number; outPerSec: number };
  inputs: Array<{
    name: string;
    recordsPerSec: number;
    records: number;
    errors: number;
    lastDurationMs: number | null;
  }>;
  stages: Array<{
    stage: string;
    type: string;
    inPerSec: number;
    outPerSec: number;
    droppedPerSec: number;
    errors: number;
  }>;
  plugins: Array<{
    name: string;
    state: string;
    cpuPercent: number;
    heapUsedBytes: number;
    callsPerSec: number;
    errors: number;
  }> | null;
  guard: { level: number; inputSlowdown: number; pausedPlugins: string[] } | null;
}

const round = (n: number, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits;

/**
 * Rates between `before` and `after`. A counter that went down (the part holding it was rebuilt by
 * a reload) counts from 0 again, as Prometheus' rate() does.
 */
export function topView(before: TopSnapshot, after: TopSnapshot): TopView {
  const seconds = Math.max(0.001, (after.at - before.at) / 1000);
  const rate = (then: number | undefined, now: number) =>
    round(Math.max(0, then === undefined || now < then ? now : now - then) / seconds);
  const inputsBefore = new Map(before.inputs.map((i) => [i.name, i]));
  const stagesBefore = new Map(before.stages.map((s) => [s.stage, s]));
  const pluginsBefore = new Map((before.plugins ?? []).map((p) => [p.name, p]));
  return {
    at: after.at,
    intervalSec: round(seconds, 2),
    pid: after.pid,
    cpuPercent: round(((after.cpuSeconds - before.cpuSeconds) / seconds) * 100, 2),
    rssBytes: after.rssBytes,
    heapUsedBytes: after.heapUsedBytes,
    queue: {
      ...after.queue,
      inPerSec: rate(before.queue.enqueued, after.queue.enqueued),
      outPerSec: rate(before.queue.acked, after.queue.acked),
    },
    inputs: after.inputs.map((i) => ({
      name: i.name,
      recordsPerSec: rate(inputsBefore.get(i.name)?.records, i.records),
      records: i.records,
      errors: i.errors,
      lastDurationMs: i.lastDurationMs === null ? null : round(i.lastDurationMs),
    })),
    stages: after.stages.map((s) => {
      const then = stagesBefore.get(s.stage);
      return {
        stage: s.stage,
        type: s.type,
        inPerSec: rate(then?.in, s.in),
        outPerSec: rate(then?.out, s.out),
        droppedPerSec: rate(then?.dropped, s.dropped),
        errors: s.errors,
      };
    }),
    plugins:
      after.plugins?.map((p) => {
        const then = pluginsBefore.get(p.name);
        const cpuMs = then === undefined || p.cpuTimeMs < then.cpuTimeMs ? 0 : p.cpuTimeMs - then.cpuTimeMs;
        return {
          name: p.name,
          state: p.state,
          cpuPercent: round((cpuMs / 1000 / seconds) * 100, 2),
          heapUsedBytes: p.heapUsedBytes,
          callsPerSec: rate(then?.calls, p.calls),
          errors: p.errors,
        };
      }) ?? null,
    guard: after.guard && {
      level: after.guard.level,
      inputSlowdown: after.guard.inputSlowdown,
      pausedPlugins: after.guard.pausedPlugins,
    },
  };
}

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  // First column left-aligned (names), figures right-aligned so digits line up.
  const line = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return `${[line(header), ...rows.map(line)].join('\n')}\n`;
}

export function renderTop(view: TopView): string {
  const time = new Date(view.at).toISOString().slice(11, 19);
  const guard = view.guard
    ? view.guard.level === 0
      ? 'guard ok'
      : `guard level ${view.guard.level} (inputs x${view.guard.inputSlowdown}${view.guard.pausedPlugins.length > 0 ? `, paused ${view.guard.pausedPlugins.join(',')}` : ''})`
    : 'guard off';
  let out =
    `outpost-agent pid ${view.pid}  ${time}  cpu ${view.cpuPercent.toFixed(1)}%  rss ${formatBytes(view.rssBytes)}` +
    `  heap ${formatBytes(view.heapUsedBytes)}  ${guard}\n` +
    `queue ${view.queue.depth} records, ${formatBytes(view.queue.bytes)}  in ${view.queue.inPerSec}/s` +
    `  out ${view.queue.outPerSec}/s  dropped ${view.queue.dropped}\n\n`;
  out += table(
    ['INPUT', 'REC/S', 'RECORDS', 'ERRORS', 'LAST RUN'],
    view.inputs.map((i) => [
      i.name,
      String(i.recordsPerSec),
      String(i.records),
      String(i.errors),
      i.lastDurationMs === null ? '-' : `${i.lastDurationMs} ms`,
    ]),
  );
  if (view.stages.length > 0) {
    out += `\n${table(
      ['STAGE', 'TYPE', 'IN/S', 'OUT/S', 'DROP/S', 'ERRORS'],
      view.stages.map((s) => [
        s.stage,
        s.type,
        String(s.inPerSec),
        String(s.outPerSec),
        String(s.droppedPerSec),
        String(s.errors),
      ]),
    )}`;
  }
  if (view.plugins === null) out += '\nplugins: none (no plugin runtime)\n';
  else if (view.plugins.length === 0) out += '\nplugins: none installed\n';
  else {
    out += `\n${table(
      ['PLUGIN', 'STATE', 'CPU%', 'HEAP', 'CALLS/S', 'ERRORS'],
      view.plugins.map((p) => [
        p.name,
        p.state,
        p.cpuPercent.toFixed(1),
        formatBytes(p.heapUsedBytes),
        String(p.callsPerSec),
        String(p.errors),
      ]),
    )}`;
  }
  return out;
}
