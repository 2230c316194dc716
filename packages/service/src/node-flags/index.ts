export {
  missingNodeFlags,
  type NodeFlagsSpec,
  relaunchWithNodeFlags,
  withMallocTunables,
  withNodeSnapshot,
} from './relaunch.ts';
