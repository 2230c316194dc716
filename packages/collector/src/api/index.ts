export type { AlertHooks } from './alert-routes.ts';
export { STATUS_BY_CODE } from './errors.ts';
export type { Api, ApiOptions } from './server.ts';
export { buildApi } from './server.ts';
