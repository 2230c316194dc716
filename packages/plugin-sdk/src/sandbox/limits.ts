export interface SandboxLimits {
  /** The isolate's heap limit (isolated-vm memoryLimit, MB, at least 8). */
  memoryLimitMb: number;
  /** Wall time of each host -> isolate call, awaits on host calls included. */
  timeoutMs: number;
  /** CPU time the isolate may use within any `cpuWindowMs`. */
  cpuBudgetMs: number;
  cpuWindowMs: number;
  /** Records one call may return and emit together. */
  maxRecordsPerCall: number;
  /** Size of one call's output as JSON. */
  maxOutputBytes: number;
  maxLogLinesPerCall: number;
  /** Longer log messages are cut. */
  maxLogLineChars: number;
  maxHttpResponseBytes: number;
  maxFileBytes: number;
  /** Size of one state value as JSON. */
  maxStateValueBytes: number;
  /** Host calls (http, files, state) one plugin may have in flight at once. */
  maxPendingHostCalls: number;
}

export const DEFAULT_LIMITS: Readonly<SandboxLimits> = Object.freeze({
  memoryLimitMb: 64,
  timeoutMs: 5_000,
  cpuBudgetMs: 10_000,
  cpuWindowMs: 60_000,
  maxRecordsPerCall: 10_000,
  maxOutputBytes: 16 * 1024 * 1024,
  maxLogLinesPerCall: 1_000,
  maxLogLineChars: 8_192,
  maxHttpResponseBytes: 4 * 1024 * 1024,
  maxFileBytes: 4 * 1024 * 1024,
  maxStateValueBytes: 256 * 1024,
  maxPendingHostCalls: 16,
});
