export { ControlClient, type ControlQuery } from './client.ts';
export { badRequest } from './errors.ts';
export { type ControlStream, StreamReply, streamReply, TextReply, textReply } from './reply.ts';
export {
  type ControlRequest,
  type ControlRoute,
  type ControlRoutes,
  ControlServer,
  type ControlServerOptions,
} from './server.ts';
