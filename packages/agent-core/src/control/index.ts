export { ControlClient } from './client.ts';
export { type ControlRoute, type ControlRoutes, ControlServer } from './server.ts';
