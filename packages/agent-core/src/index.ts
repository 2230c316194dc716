export { type AgentConfig, loadConfig } from './config/index.ts';
export { ControlClient } from './control/index.ts';
export { OutpostError } from './errors.ts';
export { Agent, type AgentStartOptions, type AgentStatus, type ReloadResult } from './lifecycle/index.ts';
export { Queue, type QueueOptions, type QueueStats } from './queue/index.ts';
export { AGENT_VERSION } from './version.ts';
