import { createRequire } from 'node:module';
import type * as undici from 'undici';

export type Agent = undici.Agent;
export type Connector = undici.buildConnector.connector;

export interface UndiciParts {
  Agent: typeof undici.Agent;
  buildConnector: typeof undici.buildConnector;
}

let parts: UndiciParts | undefined;

/**
 * The undici pieces a plugin's http.request() needs, loaded on the first request: with node:tls they
 * cost the plugin host about 8 MB of RSS, which a host whose plugins have no permissions.http never
 * pays (docs/operations.md, Idle cost).
 *
 * undici's index loads all of undici (fetch, WebSocket, caches, mocks) and, through its cookies
 * module reading globalThis.Headers, Node's own bundled copy of undici as well: about 13 MB of RSS
 * more. undici has no exports map, so these files load on their own; the version is pinned, and a
 * moved file fails at the first request with a clear require error.
 */
export function undiciParts(): UndiciParts {
  if (parts === undefined) {
    const require = createRequire(import.meta.url);
    // What undici's index does for every dispatcher: request(), stream() and the rest are methods
    // added to Dispatcher's prototype.
    Object.assign(
      require('undici/lib/dispatcher/dispatcher.js').prototype,
      require('undici/lib/api/index.js'),
    );
    parts = {
      Agent: require('undici/lib/dispatcher/agent.js'),
      buildConnector: require('undici/lib/core/connect.js'),
    };
  }
  return parts;
}
