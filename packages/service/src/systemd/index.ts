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
export { MIN_NOTIFY_SYSTEMD, type NotifySupport, notifySupport } from './notify-support.ts';
export {
  DEFAULT_WATCHDOG_SEC,
  parseCpuQuota,
  parseMemoryMax,
  parseWatchdogSec,
  renderUnit,
  type UnitOptions,
} from './unit.ts';
