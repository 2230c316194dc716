import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  agentPlugins,
  assignmentView,
  assignPlugin,
  MAX_PACKAGE_BYTES,
  packageView,
  pluginVersions,
  removePlugin,
  unassignPlugin,
  uploadPlugin,
} from '../fleet/index.ts';
import type { PluginPackageInfo, Store } from '../store/index.ts';
import { badQuery, notFound } from './errors.ts';
import type { Api } from './server.ts';

type AuthHook = (request: FastifyRequest) => Promise<void>;

export interface PluginRouteOptions {
  store: Store;
  authenticateAgent: AuthHook;
  authenticateAdmin: AuthHook;
  agentIdOf: (request: FastifyRequest) => string;
  bodyOf: (request: FastifyRequest) => unknown;
}

const PACKAGE_TYPES = ['application/gzip', 'application/x-gzip', 'application/octet-stream'];
type Package = { Params: { name: string; version: string } };

/** The plugin store (docs/fleet.md): upload, list, download, versions, assignments. */
export function registerPluginRoutes(app: Api, options: PluginRouteOptions): void {
  const { store, authenticateAdmin, authenticateAgent, agentIdOf, bodyOf } = options;

  const download = async (request: FastifyRequest<Package>, reply: FastifyReply) => {
    const { name, version } = request.params;
    const [info, data] = await Promise.all([
      store.fleet.getPluginPackage(name, version),
      store.fleet.readPluginPackage(name, version),
    ]);
    if (!info || !data) throw notFound(`${name}@${version} is not in the plugin store`);
    return sendPackage(reply, info, data);
  };

  // Package bytes are accepted in this scope only; every other route still takes JSON alone.
  app.register(async (scope) => {
    scope.addContentTypeParser(
      PACKAGE_TYPES,
      { parseAs: 'buffer', bodyLimit: MAX_PACKAGE_BYTES },
      (_r, body, done) => done(null, body),
    );
    scope.post(
      '/api/v1/plugin/store',
      { onRequest: authenticateAdmin, bodyLimit: MAX_PACKAGE_BYTES },
      async (request, reply) => {
        const data = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        const expected = request.headers['x-outpost-sha256'];
        const result = await uploadPlugin(
          store,
          data,
          typeof expected === 'string' ? expected : undefined,
          Date.now(),
        );
        if (result.stored)
          request.log.info({ plugin: result.plugin.name, version: result.plugin.version }, 'plugin uploaded');
        void reply.code(result.stored ? 201 : 200);
        return packageView(result.plugin);
      },
    );
  });

  app.get('/api/v1/plugin/store', { onRequest: authenticateAdmin }, async () => ({
    plugins: (await store.fleet.listPluginPackages()).map(packageView),
  }));

  app.get<Package>('/api/v1/plugin/store/:name/:version', { onRequest: authenticateAdmin }, download);

  app.delete<Package>(
    '/api/v1/plugin/store/:name/:version',
    { onRequest: authenticateAdmin },
    async (request) => {
      const { name, version } = request.params;
      const answer = await removePlugin(store, name, version);
      request.log.info({ plugin: name, version }, 'plugin removed from the store');
      return answer;
    },
  );

  app.get('/api/v1/plugin/version', { onRequest: authenticateAdmin }, async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(query)) {
      if (key !== 'name') throw badQuery(`unknown query parameter "${key}"; known: name`);
    }
    if (typeof query.name !== 'string' || query.name === '')
      throw badQuery('name: required, the plugin name');
    return pluginVersions(store, query.name);
  });

  app.get('/api/v1/plugin/config', { onRequest: authenticateAdmin }, async () => ({
    assignments: (await store.fleet.listPluginAssignments()).map(assignmentView),
  }));
  app.put(
    '/api/v1/plugin/config',
    { onRequest: authenticateAdmin, bodyLimit: 256 * 1024 },
    async (request) => {
      const assignment = await assignPlugin(store, bodyOf(request), Date.now());
      request.log.info(
        { plugin: assignment.name, version: assignment.version, target: assignment.target },
        'plugin assigned',
      );
      return assignmentView(assignment);
    },
  );

  app.delete(
    '/api/v1/plugin/config',
    { onRequest: authenticateAdmin, bodyLimit: 64 * 1024 },
    async (request) => unassignPlugin(store, bodyOf(request)),
  );

  app.get('/api/v1/agent/plugins', { onRequest: authenticateAgent }, async (request) =>
    agentPlugins(store, agentIdOf(request)),
  );
  // The store is the fleet's approved set: any registered agent may read and download from it
  // (`agentctl plugin install name@version`); assignments say what should run, not what may.
  app.get('/api/v1/agent/plugin-store', { onRequest: authenticateAgent }, async (request) => {
    const query = (request.query ?? {}) as Record<string, unknown>;
    for (const key of Object.keys(query)) {
      if (key !== 'name') throw badQuery(`unknown query parameter "${key}"; known: name`);
    }
    if (query.name !== undefined && (typeof query.name !== 'string' || query.name === ''))
      throw badQuery('name: a plugin name when given');
    const name = query.name as string | undefined;
    return { plugins: (await store.fleet.listPluginPackages(name)).map(packageView) };
  });
  app.get<Package>('/api/v1/agent/plugins/:name/:version', { onRequest: authenticateAgent }, download);
}

/** The .tgz as uploaded; the headers let a client verify it without unpacking. */
function sendPackage(reply: FastifyReply, info: PluginPackageInfo, data: Uint8Array): Buffer {
  void reply.header('x-outpost-sha256', info.sha256);
  void reply.header('x-outpost-package-sha256', info.packageSha256);
  void reply.header(
    'content-disposition',
    `attachment; filename="${info.name.replace(/[@/]/g, '_')}-${info.version}.tgz"`,
  );
  void reply.type('application/gzip');
  return Buffer.from(data);
}
