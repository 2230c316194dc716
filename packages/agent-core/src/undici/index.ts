// The light undici import lives in @outpost/service, shared with the collector.
export type { Dispatcher } from '@outpost/service/undici';
export { Client, Pool } from '@outpost/service/undici';
