import semver from 'semver';
import { z } from 'zod';
import { CAPABILITIES, PLUGIN_API_VERSION } from '../plugin.ts';
import { checkConfigSchema } from './config.ts';
import { manifestInvalid } from './errors.ts';
import { formatPath } from './path.ts';

export const MANIFEST_FILE = 'outpost-plugin.json';

/** Longest delay a Node timer takes without firing at once (2^31-1 ms, about 24.8 days). */
const TIMER_MAX_MS = 2_147_483_647;

/** `https://api.example.com:8443` -> its normalized origin; undefined when it is not just an origin. */
export function parseOrigin(value: string): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return undefined;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return undefined;
  if (url.pathname !== '/' || /[?#]/.test(value)) return undefined;
  return url.origin;
}

const origin = z.string().transform((value, ctx) => {
  const parsed = parseOrigin(value);
  if (parsed === undefined) {
    ctx.addIssue({ code: 'custom', message: 'must be an origin like https://host:port (no path)' });
    return z.NEVER;
  }
  return parsed;
});

const fileGlob = z
  .string()
  .min(1)
  .refine((glob) => glob.startsWith('/'), { error: 'must be an absolute glob like /var/log/app/*.log' })
  .refine((glob) => !glob.split('/').includes('..'), { error: 'must not contain ".." segments' });

const entry = z
  .string()
  .min(1)
  .refine(
    (value) =>
      !value.startsWith('/') &&
      !value.includes('\\') &&
      !value.split('/').includes('..') &&
      /\.m?js$/.test(value),
    { error: 'must be a relative path to the bundled .js file inside the plugin, like dist/index.js' },
  );

const configSchema = z
  .record(z.string(), z.unknown(), { error: 'must be a JSON Schema object' })
  .superRefine((schema, ctx) => {
    if (schema.type !== 'object') {
      ctx.addIssue({ code: 'custom', path: ['type'], message: 'must be "object": a config is a mapping' });
      return;
    }
    const problem = checkConfigSchema(schema);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: problem });
  });

export const manifestSchema = z.strictObject({
  name: z
    .string()
    .max(214)
    .regex(/^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/, {
      error: 'must be an npm-like package name (lower case, may be scoped: @scope/name)',
    }),
  version: z.string().refine((value) => semver.valid(value) === value, {
    error: 'must be a semver version like 1.2.3',
  }),
  apiVersion: z.literal(PLUGIN_API_VERSION, {
    error: `must be ${PLUGIN_API_VERSION} (the plugin API this SDK implements)`,
  }),
  description: z.string().max(1024).optional(),
  entry,
  capabilities: z
    .array(z.enum(CAPABILITIES, { error: `must be one of ${CAPABILITIES.join(', ')}` }))
    .min(1, { error: `must list at least one of ${CAPABILITIES.join(', ')}` })
    .refine((list) => new Set(list).size === list.length, { error: 'must not repeat a capability' }),
  permissions: z
    .strictObject({
      http: z.array(origin).default([]),
      files: z.array(fileGlob).default([]),
    })
    .default({ http: [], files: [] }),
  configSchema: configSchema.default({ type: 'object', additionalProperties: false }),
  /** How often the agent runs collect() unless the agent's config says otherwise. */
  collectIntervalMs: z.number().int().min(1000).max(TIMER_MAX_MS).default(60_000),
});

export type PluginManifest = z.output<typeof manifestSchema>;
export type PluginPermissions = PluginManifest['permissions'];

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'invalid_type' && issue.input === undefined) return 'is required';
  if (issue.code === 'invalid_type') return `must be ${issue.expected}`;
  if (issue.code === 'too_small' && issue.origin === 'number') {
    return `must be ${issue.inclusive ? '>=' : '>'} ${issue.minimum}`;
  }
  if (issue.code === 'too_big' && issue.origin === 'number') {
    return `must be ${issue.inclusive ? '<=' : '<'} ${issue.maximum}`;
  }
  if (issue.code === 'too_big' && issue.origin === 'string')
    return `must be at most ${issue.maximum} characters`;
  if (issue.code === 'too_small' && issue.origin === 'string') return 'must not be empty';
  return issue.message;
}

/**
 * Validates a parsed outpost-plugin.json. Throws E_PLUGIN_MANIFEST whose message names `where`
 * and each bad field: `outpost-plugin.json: permissions.http[0]: must be an origin like ...`.
 */
export function parseManifest(json: unknown, where: string): PluginManifest {
  const result = manifestSchema.safeParse(json, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => ({ path: formatPath([...issue.path, key]), message: 'unknown field' }))
      : [{ path: formatPath(issue.path), message: describeIssue(issue) }],
  );
  throw manifestInvalid(where, problems);
}
