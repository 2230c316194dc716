export { badServiceFlag, isServiceError, ServiceError } from './errors.ts';
export {
  DEFAULT_UNIT_DIR,
  type InstallOptions,
  type InstallResult,
  installUnit,
  siblingBin,
  type UninstallOptions,
  uninstallUnit,
  userExists,
} from './install.ts';
export { parseCpuQuota, parseMemoryMax, renderUnit, type UnitOptions } from './unit.ts';
