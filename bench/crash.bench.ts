/** The crash harness at full length: lost, duplicated and dropped counts over many kill cycles. */
import { runCrashCycles } from '../test/e2e/crash-harness.ts';
import { tempDir } from '../test/e2e/harness.ts';
import { report } from './report.ts';

const CYCLES = Number(process.env.BENCH_CRASH_CYCLES ?? 1000);
using dir = tempDir('bench-crash');
const started = performance.now();
const result = await runCrashCycles({
  dir: dir.path,
  cycles: CYCLES,
  log: (line) => {
    if (/cycle \d*0\//.test(line)) console.log(line);
  },
});
console.log(
  `crash harness: ${result.cycles} cycles (seed ${result.seed}) in ${Math.round((performance.now() - started) / 1000)} s: ` +
    `${result.accepted} accepted, ${result.lost} lost, ${result.duplicated} duplicated, ${result.dropped} dropped, ` +
    `${result.unknown} unknown; kills ${JSON.stringify(result.kills)}; faults ${JSON.stringify(result.faults)}`,
);
report('crash', {
  cycles: result.cycles,
  seed: result.seed,
  accepted: result.accepted,
  uncertain: result.uncertain,
  lost: result.lost,
  duplicated: result.duplicated,
  dropped: result.dropped,
  unknown: result.unknown,
  kills: result.kills,
  faults: result.faults,
});
