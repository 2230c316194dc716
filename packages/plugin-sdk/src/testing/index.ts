export type { PluginLogEntry, PluginStats, StateStore } from '../sandbox/index.ts';
export { MemoryStateStore } from '../sandbox/index.ts';
export { FakeClock } from './clock.ts';
export type { LoadPluginOptions } from './harness.ts';
export { loadPlugin, PluginHarness } from './harness.ts';
