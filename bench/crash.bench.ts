/** The crash harness at full length: lost, duplicated and dropped counts over many kill cycles. */
import { runCrashCycles } from '../test/e2e/crash-harness.ts';
import { tempDir } from '../test/e2e/harness.ts';
import { report } from './report.ts';

const CYCLES = Number(process.env.BENCH_CRASH_CYCLES ?? 1000);
const MAX_IN_FLIGHT = Number(process.env.BENCH_CRASH_MAX_IN_FLIGHT ?? 4);
// 0: the producer pushes as fast as the agent answers (about 36,000 records a cycle here).
const PUSH_PAUSE_MS = Number(process.env.BENCH_CRASH_PUSH_PAUSE_MS ?? 0);
using dir = tempDir('bench-crash');
const started = performance.now();
const result = await runCrashCycles({
  dir: dir.path,
  cycles: CYCLES,
  maxInFlight: MAX_IN_FLIGHT,
  pushPauseMs: PUSH_PAUSE_MS,
  log: (line) => {
    if (/cycle \d*0\/|^drain:/.test(line)) console.log(line);
  },
});
console.log(
  `crash harness: ${result.cycles} cycles (seed ${result.seed}) in ${Math.round((performance.now() - started) / 1000)} s: ` +
    `${result.accepted} accepted, ${result.lost} lost, ${result.duplicated} duplicated, ${result.dropped} dropped, ` +
    `${result.unknown} unknown; backlog ${result.backlog} drained in ${result.drainMs} ms (${result.drainPerSecond}/s); ` +
    `max_in_flight ${MAX_IN_FLIGHT}; push pause ${PUSH_PAUSE_MS} ms; kills ${JSON.stringify(result.kills)}; faults ${JSON.stringify(result.faults)}`,
);
report('crash', {
  cycles: result.cycles,
  maxInFlight: MAX_IN_FLIGHT,
  pushPauseMs: PUSH_PAUSE_MS,
  seed: result.seed,
  accepted: result.accepted,
  uncertain: result.uncertain,
  lost: result.lost,
  duplicated: result.duplicated,
  dropped: result.dropped,
  unknown: result.unknown,
  kills: result.kills,
  faults: result.faults,
  backlog: result.backlog,
  drainMs: result.drainMs,
  drainPerSecond: result.drainPerSecond,
});
