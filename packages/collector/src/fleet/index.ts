export type { AgentState, AgentView, FleetHeartbeatAnswer } from './agents.ts';
export {
  agentConfig,
  agentPlugins,
  fleetHeartbeat,
  getAgentView,
  listAgentViews,
  revokeAgent,
  setAdminLabels,
} from './agents.ts';
export type { CommandType, DeliveredCommand } from './commands.ts';
export { COMMAND_TYPES, recordCommandResult, sendCommand } from './commands.ts';
export type { ConfigVersionView } from './configs.ts';
export { configView, MAX_CONFIG_BYTES, pushConfig, retryConfig, rollbackConfig } from './configs.ts';
export type { RegisterAnswer, TokenView } from './enrollment.ts';
export { createEnrollmentToken, registerAgent, tokenView } from './enrollment.ts';
export type { ConfigTarget, Labels } from './labels.ts';
export { formatSelector, parseSelector, targetKey } from './labels.ts';
export type { DesiredPlugin } from './plugins.ts';
export {
  assignmentView,
  assignPlugin,
  MAX_PACKAGE_BYTES,
  packageView,
  pluginVersions,
  removePlugin,
  unassignPlugin,
  uploadPlugin,
} from './plugins.ts';
