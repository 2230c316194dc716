export { logfileBadOptions, logfileNoCursors } from './errors.ts';
export type { LogFileInputOptions, LogFileInputStats } from './input.ts';
export { LogFileInput } from './input.ts';
