export { Agent, type AgentStartOptions, type AgentStatus, type ReloadResult } from './agent.ts';
export { HeapTrim, type HeapTrimOptions, type HeapTrimStats } from './heap-trim.ts';
export type { GuardAction, GuardStatus, UsageSample } from './resource-guard.ts';
export { type LoadShedding, ResourceGuard, type ResourceGuardOptions } from './resource-guard.ts';
export type { TopPlugin, TopSnapshot } from './top.ts';
