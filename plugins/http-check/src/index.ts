import { definePlugin, type PluginContext, type RecordInput } from '@outpost/plugin-sdk';

export interface HttpCheckConfig {
  urls: string[];
  method: 'GET' | 'HEAD';
  timeoutMs: number;
  followRedirects: boolean;
}

const DAY_MS = 86_400_000;

function errorText(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as Error & { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}

async function probe(url: string, ctx: PluginContext<HttpCheckConfig>): Promise<RecordInput[]> {
  const { method, timeoutMs, followRedirects } = ctx.config;
  try {
    const res = await ctx.http.request({
      url,
      method,
      timeoutMs,
      redirect: followRedirects ? 'follow' : 'manual',
    });
    const attrs = { url };
    const records: RecordInput[] = [
      { kind: 'metric', name: 'http.check.status', value: res.status, unit: '1', attrs },
      { kind: 'metric', name: 'http.check.duration', value: res.durationMs, unit: 'ms', attrs },
    ];
    if (res.tls !== undefined) {
      records.push({
        kind: 'metric',
        name: 'http.check.tls.expiry_days',
        value: Math.floor((res.tls.validTo - ctx.clock.now()) / DAY_MS),
        unit: 'd',
        attrs,
      });
    }
    return records;
  } catch (err) {
    // One unreachable URL must not hide the results of the others, nor fail the plugin:
    // the failure is a record that dashboards and rules can see.
    const error = errorText(err);
    ctx.log.warn('probe failed', { url, error });
    return [
      {
        kind: 'metric',
        name: 'http.check.status',
        value: 0,
        unit: '1',
        attrs: { url, error: error.slice(0, 4096) },
      },
    ];
  }
}

export default definePlugin<HttpCheckConfig>({
  async collect(ctx) {
    const results = await Promise.all(ctx.config.urls.map((url) => probe(url, ctx)));
    return results.flat();
  },
});
