import { createHash } from 'node:crypto';
import semver from 'semver';
import { z } from 'zod';
import { OutpostError } from '../errors.ts';
import type { StoreSpec } from '../plugins/index.ts';
import { HttpAnswerError } from './collector-link.ts';
import { notRegistered } from './errors.ts';

/** What installing from the store needs of the collector link. */
export interface PluginStoreClient {
  request(method: 'GET', path: string): Promise<unknown>;
  download(path: string): Promise<Buffer>;
  status(): { url: string; registered: boolean };
}

/** A package fetched from the collector's plugin store; `sha256` is the bundle's, for install. */
export interface StorePackage {
  name: string;
  version: string;
  sha256: string;
  bytes: Buffer;
}

const listSchema = z.object({
  plugins: z.array(
    z.object({
      name: z.string(),
      version: z.string(),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      packageSha256: z.string().regex(/^[0-9a-f]{64}$/),
    }),
  ),
});

const notInStore = (spec: string, url: string, known: string[]) =>
  new OutpostError(
    'E_PLUGIN_NOT_IN_STORE',
    known.length === 0
      ? `${spec} is not in the plugin store of the collector at ${url} (no version of it is stored); upload it there first (outpost-collector plugin upload)`
      : `${spec} is not in the plugin store of the collector at ${url}; stored versions: ${known.join(', ')}`,
    { spec, url, known },
  );

const packageHashMismatch = (spec: string, expected: string, actual: string) =>
  new OutpostError(
    'E_PLUGIN_SHA256',
    `${spec} from the plugin store: the downloaded package's sha256 is ${actual}, the store lists ${expected}; refusing to install`,
    { spec, expected, actual },
  );

const storeRefused = (url: string, err: HttpAnswerError) =>
  new OutpostError(
    err.status === 401 ? 'E_NOT_REGISTERED' : 'E_PLUGIN_STORE',
    err.status === 401
      ? `the collector at ${url} no longer accepts this agent's identity (${err.message}); the agent registers again, try once it has`
      : `the plugin store of the collector at ${url} answered ${err.status} ${err.code}: ${err.message}`,
    { url, status: err.status },
  );

/**
 * Resolves `name[@version]` (no version: the highest semver stored) against the collector's plugin
 * store with the agent's own identity, downloads the .tgz and checks it against the store's hash.
 */
export async function fetchFromStore(
  client: PluginStoreClient,
  spec: StoreSpec,
  onProgress: (step: string) => void = () => {},
): Promise<StorePackage> {
  const { url, registered } = client.status();
  if (!registered) throw notRegistered(url);
  const label = spec.version === undefined ? spec.name : `${spec.name}@${spec.version}`;
  try {
    onProgress(`resolving ${label} at ${url}`);
    const { plugins } = listSchema.parse(
      await client.request('GET', `/api/v1/agent/plugin-store?name=${encodeURIComponent(spec.name)}`),
    );
    const stored = plugins.filter((p) => p.name === spec.name);
    const chosen =
      spec.version === undefined
        ? stored.sort((a, b) => semver.rcompare(a.version, b.version))[0]
        : stored.find((p) => p.version === spec.version);
    if (!chosen)
      throw notInStore(
        label,
        url,
        stored.map((p) => p.version),
      );
    onProgress(`downloading ${chosen.name}@${chosen.version}`);
    const bytes = await client.download(
      `/api/v1/agent/plugins/${encodeURIComponent(chosen.name)}/${encodeURIComponent(chosen.version)}`,
    );
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== chosen.packageSha256) throw packageHashMismatch(label, chosen.packageSha256, actual);
    return { name: chosen.name, version: chosen.version, sha256: chosen.sha256, bytes };
  } catch (err) {
    if (err instanceof HttpAnswerError) {
      if (err.status === 404) throw notInStore(label, url, []);
      throw storeRefused(url, err);
    }
    throw err;
  }
}
