import { createRequire } from 'node:module';
import type * as undici from 'undici';

// undici's index loads all of undici (fetch, WebSocket, caches, mocks) and, through its cookies
// module reading globalThis.Headers, Node's own bundled copy of undici as well: about 13 MB of RSS
// in the plugin host, which needs one dispatcher and the connector. undici has no exports map, so
// these files load on their own; the version is pinned, and a moved file fails at load, not later.
const require = createRequire(import.meta.url);
// What undici's index does for every dispatcher: request(), stream() and the rest are methods
// added to Dispatcher's prototype.
Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, require('undici/lib/api/index.js'));

export const Agent: typeof undici.Agent = require('undici/lib/dispatcher/agent.js');
export type Agent = undici.Agent;
export const buildConnector: typeof undici.buildConnector = require('undici/lib/core/connect.js');
export type Connector = undici.buildConnector.connector;
