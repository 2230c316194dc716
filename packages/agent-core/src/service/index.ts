import {
  isServiceError,
  type ServiceError,
  badServiceFlag as sharedBadServiceFlag,
  installUnit as sharedInstallUnit,
  siblingBin as sharedSiblingBin,
  uninstallUnit as sharedUninstallUnit,
} from '@outpost/service/systemd';
import { OutpostError } from '../errors.ts';

export { ServiceNotifier } from '@outpost/service/notify';
export {
  DEFAULT_UNIT_DIR,
  type InstallOptions,
  type InstallResult,
  parseCpuQuota,
  parseMemoryMax,
  parseWatchdogSec,
  renderUnit,
  type UninstallOptions,
  type UnitOptions,
  userExists,
} from '@outpost/service/systemd';

// The shared package has its own error class; agentctl prints and branches on agent-core's.
const asOutpostError = (err: ServiceError) =>
  new OutpostError(err.code, err.message, err.details, { cause: err });

function raisingOutpostErrors<A extends unknown[], R>(fn: (...args: A) => R): (...args: A) => R {
  return (...args) => {
    try {
      return fn(...args);
    } catch (err) {
      throw isServiceError(err) ? asOutpostError(err) : err;
    }
  };
}

export const installUnit = raisingOutpostErrors(sharedInstallUnit);
export const uninstallUnit = raisingOutpostErrors(sharedUninstallUnit);
export const siblingBin = raisingOutpostErrors(sharedSiblingBin);
export const badServiceFlag = (flag: string, value: string, expected: string): OutpostError =>
  asOutpostError(sharedBadServiceFlag(flag, value, expected));
