import assert from 'node:assert/strict';
import { test } from 'node:test';
import { eventually, startSession } from './session.ts';

const HOUR = 3_600_000;

interface Point {
  /** Absent on raw records. */
  resolution?: 'hour';
  ts: number;
  value: number;
  min?: number;
  max?: number;
  count?: number;
  seq?: number;
  attrs: Record<string, string>;
}

test('metrics: a range older than raw retention is answered from hourly rollups (resolution=auto|hour)', async () => {
  const s = await startSession({ retention: { raw: '2h', interval: '100ms' } });
  try {
    const agent = await s.register('web-1');
    const old = Math.floor((Date.now() - 3 * 24 * HOUR) / HOUR) * HOUR;
    const now = Date.now();
    let seq = 0;
    const cpu = (ts: number, core: string, value: number) => ({
      seq: ++seq,
      kind: 'metric',
      ts,
      name: 'system.cpu.utilization',
      value,
      unit: '1',
      attrs: { core },
      source: 'system',
    });
    const sent = await s.sendBatch(agent, 1, [
      cpu(old + 1_000, '0', 0.2),
      cpu(old + 2_000, '0', 0.4),
      cpu(old + 1_000, '1', 0.9),
      cpu(old + HOUR + 1_000, '0', 0.6),
      cpu(now - 60_000, '0', 0.1),
      cpu(now - 30_000, '0', 0.3),
    ]);
    assert.equal(sent.status, 200, JSON.stringify(sent.json));
    const base = `/api/v1/metrics?agent=${agent.agentId}&name=system.cpu.utilization&from=${old - HOUR}`;
    const get = async (query: string) => {
      const answer = await s.request('GET', `${base}${query}`, { auth: s.admin });
      assert.equal(answer.status, 200, JSON.stringify(answer.json));
      return answer.json as { metrics: Point[]; next: string | null; more: boolean };
    };

    // The retention sweep rolls everything up, then deletes the raw records older than 2h.
    const raw = await eventually(
      'raw records older than 2h deleted',
      async () => {
        const page = await get('&resolution=raw');
        return page.metrics.length === 2 ? page : undefined;
      },
      10_000,
    );
    assert.deepEqual(
      raw.metrics.map((m) => [m.resolution ?? 'raw', m.seq, m.value]),
      [
        ['raw', 5, 0.1],
        ['raw', 6, 0.3],
      ],
    );
    // Without resolution the answer is raw, as before rollups could be read.
    assert.deepEqual((await get('')).metrics, raw.metrics);

    const auto = await get('&resolution=auto');
    const round = (v: number | undefined) => (v === undefined ? v : Math.round(v * 1000) / 1000);
    const byTime = (a: unknown[], b: unknown[]) =>
      Number(a[1]) - Number(b[1]) || String(a[2]).localeCompare(String(b[2]));
    assert.deepEqual(
      auto.metrics
        .map((m) => [m.resolution ?? 'raw', m.ts - old, m.attrs.core, round(m.value), m.min, m.max, m.count])
        .sort(byTime),
      [
        ['hour', 0, '0', 0.3, 0.2, 0.4, 2],
        ['hour', 0, '1', 0.9, 0.9, 0.9, 1],
        ['hour', HOUR, '0', 0.6, 0.6, 0.6, 1],
        ['raw', now - 60_000 - old, '0', 0.1, undefined, undefined, undefined],
        ['raw', now - 30_000 - old, '0', 0.3, undefined, undefined, undefined],
      ],
    );
    assert.equal(auto.more, false);

    // Paging one item at a time crosses from rollups to raw records and sees each item once.
    const paged: Point[] = [];
    let next: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const page = await get(`&resolution=auto&limit=1${next ? `&after=${encodeURIComponent(next)}` : ''}`);
      paged.push(...page.metrics);
      next = page.next;
      if (!page.more) break;
    }
    assert.deepEqual(paged, auto.metrics);

    // resolution=hour: rollups only, including the hour the recent records fall in.
    const hourly = await get('&resolution=hour');
    assert.ok(hourly.metrics.every((m) => m.resolution === 'hour'));
    assert.deepEqual(
      hourly.metrics.map((m) => m.count),
      [2, 1, 1, ...(Math.floor((now - 60_000) / HOUR) === Math.floor((now - 30_000) / HOUR) ? [2] : [1, 1])],
    );

    const bad = await s.request('GET', `${base}&resolution=minute`, { auth: s.admin });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.error.code, 'E_BAD_QUERY');
    assert.match(bad.json.error.message, /^resolution: expected one of raw, hour, auto/);
    const hourCursor = (await get('&resolution=hour&limit=1')).next;
    const mixed = await s.request('GET', `${base}&resolution=raw&after=${hourCursor}`, { auth: s.admin });
    assert.equal(mixed.status, 400);
    assert.match(mixed.json.error.message, /^after: an hourly cursor/);
  } finally {
    await s.close();
  }
});
