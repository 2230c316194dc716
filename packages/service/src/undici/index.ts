import { createRequire } from 'node:module';
import type * as undici from 'undici';

// undici's index loads all of undici (fetch, WebSocket, caches, mocks) and, through its cookies
// module reading globalThis.Headers, Node's own bundled copy of undici as well: about 13 MB of RSS
// in a daemon that uses a few of its dispatchers. undici has no exports map, so its dispatcher files
// load on their own; the version is pinned, and a moved file fails at start-up, not later.
// (The plugin SDK keeps its own copy in sandbox/undici.ts: it is published, this package is not.)
const require = createRequire(import.meta.url);
// What undici's index does for every dispatcher: request(), stream() and the rest are methods
// added to Dispatcher's prototype.
Object.assign(require('undici/lib/dispatcher/dispatcher.js').prototype, require('undici/lib/api/index.js'));

export const Pool: typeof undici.Pool = require('undici/lib/dispatcher/pool.js');
export type Pool = undici.Pool;
export const Client: typeof undici.Client = require('undici/lib/dispatcher/client.js');
export type Client = undici.Client;
/** The process-wide Agent that undici's top-level request() uses (shared with Node's fetch). */
export const getGlobalDispatcher: typeof undici.getGlobalDispatcher =
  require('undici/lib/global.js').getGlobalDispatcher;
export type { Dispatcher } from 'undici';
