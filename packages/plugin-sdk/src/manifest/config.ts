import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { configInvalid, type FieldProblem } from './errors.ts';
import { formatPath } from './path.ts';
import type { PluginManifest } from './schema.ts';

// Draft-07 JSON Schema. Strict schema mode catches typos in a manifest ("propertes"); formats are
// not checked, so "format" is accepted and ignored.
const ajv = new Ajv({
  allErrors: true,
  useDefaults: true,
  validateFormats: false,
  strictTypes: false,
  strictTuples: false,
  logger: false,
});

const compiled = new WeakMap<object, ValidateFunction>();

function compile(schema: object): ValidateFunction {
  let validate = compiled.get(schema);
  if (validate === undefined) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  return validate;
}

/** Why `schema` cannot validate configs, or undefined when it can. */
export function checkConfigSchema(schema: object): string | undefined {
  try {
    compile(schema);
    return undefined;
  } catch (err) {
    return `is not a usable JSON Schema: ${(err as Error).message}`;
  }
}

function pointerToPath(pointer: string): (string | number)[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
    .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
}

function describe(error: ErrorObject): FieldProblem {
  const path = pointerToPath(error.instancePath);
  if (error.keyword === 'required') {
    return {
      path: formatPath([...path, String(error.params.missingProperty)], 'config'),
      message: 'is required',
    };
  }
  if (error.keyword === 'additionalProperties') {
    return {
      path: formatPath([...path, String(error.params.additionalProperty)], 'config'),
      message: 'unknown field',
    };
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ');
    return { path: formatPath(path, 'config'), message: `must be one of ${allowed}` };
  }
  return { path: formatPath(path, 'config'), message: error.message ?? `fails "${error.keyword}"` };
}

/**
 * Validates a plugin's config against its manifest's configSchema and returns a copy with the
 * schema's defaults applied. Throws E_PLUGIN_CONFIG naming each bad field (`config.url: is required`).
 */
export function validatePluginConfig(manifest: PluginManifest, config: unknown): Record<string, unknown> {
  const copy: unknown = structuredClone(config ?? {});
  const validate = compile(manifest.configSchema);
  if (validate(copy)) return copy as Record<string, unknown>;
  throw configInvalid(manifest.name, (validate.errors ?? []).map(describe));
}
