export type { PassRunnerOptions } from './pass-runner.ts';
export { PassRunner } from './pass-runner.ts';
