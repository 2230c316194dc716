export { Agent, type AgentStartOptions, type AgentStatus, type ReloadResult } from './agent.ts';
