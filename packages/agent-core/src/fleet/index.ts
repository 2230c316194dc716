export {
  CollectorLink,
  type CollectorLinkOptions,
  type HeartbeatAnswer,
  type HeartbeatStatus,
  type LinkStatus,
  type SenderIdentity,
} from './collector-link.ts';
export { type AgentIdentity, identityPath, loadIdentity } from './identity.ts';
