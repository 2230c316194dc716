import { bundlePlugin } from '@outpost/plugin-sdk/build';

export const buildPlugin = (): Promise<void> => bundlePlugin(new URL('.', import.meta.url));

if (import.meta.main) await buildPlugin();
