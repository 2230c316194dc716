export { isOutpostError, OutpostError } from '../errors.ts';
export { validatePluginConfig } from './config.ts';
export type { FieldProblem } from './errors.ts';
export type { PluginPackage } from './package.ts';
export { MAX_BUNDLE_BYTES, readPluginPackage, sha256File, sha256Hex } from './package.ts';
export type { PluginManifest, PluginPermissions } from './schema.ts';
export { MANIFEST_FILE, manifestSchema, parseManifest, parseOrigin } from './schema.ts';
