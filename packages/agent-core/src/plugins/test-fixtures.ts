/** What the plugin runtime, supervisor and bench tests build their plugins from (not shipped). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** A fresh directory removed when the test ends. */
export function tempDir(t: { after: (fn: () => void) => void }, prefix: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `outpost-${prefix}-`));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** An unpacked plugin at <root>/src/<name>, ready for install; returns its directory. */
export function writePlugin(root: string, name: string, manifest: object, code: string): string {
  const dir = path.join(root, 'src', name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(
    path.join(dir, 'outpost-plugin.json'),
    JSON.stringify({ name, version: '1.0.0', apiVersion: 1, entry: 'index.js', ...manifest }),
  );
  fs.writeFileSync(path.join(dir, 'index.js'), code);
  return dir;
}

// Counts its collections in persisted state, so a restart that lost state would start over at 1.
export const COUNTER = `export default {
  async collect(ctx) {
    const n = ((await ctx.state.get('n')) ?? 0) + 1;
    await ctx.state.set('n', n);
    ctx.log.info('counted', { n });
    return [{ kind: 'metric', name: ctx.config.metric, value: n }];
  },
};`;
export const COUNTER_SCHEMA = {
  type: 'object',
  properties: { metric: { type: 'string', default: 'counter' } },
  additionalProperties: false,
};

/** Polls `probe` until it gives a value (not undefined or false); fails naming `what` at the deadline. */
export async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
