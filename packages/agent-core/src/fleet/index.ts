export {
  CollectorLink,
  type CollectorLinkOptions,
  type HeartbeatAnswer,
  type HeartbeatStatus,
  type LinkStatus,
  type SenderIdentity,
} from './collector-link.ts';
export { COMMAND_JOURNAL_FILE } from './command-journal.ts';
export { type CommandTarget, UPGRADE_EXIT_CODE } from './commands.ts';
export {
  type FleetClient,
  FleetController,
  type FleetControllerOptions,
  type FleetHost,
  type FleetStatus,
} from './fleet-controller.ts';
export { type AgentIdentity, identityPath, loadIdentity } from './identity.ts';
export { fetchFromStore, type PluginStoreClient, type StorePackage } from './plugin-store.ts';
export {
  type EffectiveConfig,
  LOCAL_ONLY_KEYS,
  layRemoteConfig,
  loadEffectiveConfig,
  REMOTE_CONFIG_FILE,
  type RemoteConfigError,
  remoteConfigPath,
  setAsideRemoteConfig,
} from './remote-config.ts';
