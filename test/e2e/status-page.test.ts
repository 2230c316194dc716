import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { chromium } from 'playwright-core';
import { startFleet, tempDir, waitFor } from './harness.ts';

const CHROMIUM = '/usr/bin/chromium';

test('the status page shows a person the agent, its charts and a firing alert', {
  skip: existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (Debian package "chromium")`,
}, async (t) => {
  using dir = tempDir('status-page');
  const { collector, agentId } = await startFleet(t, dir.path, {
    collectorConfig: 'alerts:\n  evaluate_interval: 500ms\nretention:\n  interval: 500ms\n',
    inputs: true,
  });
  await waitFor('system metrics at the collector', async () => {
    const { metrics } = await collector.api<{ metrics: unknown[] }>(
      `/api/v1/metrics?agent=${agentId}&name=system.cpu.utilization&limit=3`,
    );
    return metrics.length >= 2 ? true : undefined;
  });
  const { hostname } = await collector.api<{ hostname: string }>(`/api/v1/agents/${agentId}`);
  const rule = await collector.request('POST', '/api/v1/alert/rules', {
    type: 'threshold',
    name: 'host is up',
    metric: 'system.uptime',
    op: 'above',
    threshold: 0,
  });
  assert.equal(rule.status, 201, JSON.stringify(rule.body));

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
  t.after(() => browser.close());
  const page = await browser.newPage();
  const problems: string[] = [];
  const metricQueries: string[] = [];
  page.on('request', (request) => {
    if (request.url().includes('/api/v1/metrics?')) metricQueries.push(request.url());
  });
  page.on('pageerror', (err) => problems.push(err.message));
  // The browser logs every 401 as a console error, including the wrong token's, whose answers may
  // land after the page showed the refusal: a 401 is a problem only when the admin token got it.
  page.on('console', (msg) => {
    if (msg.type() === 'error' && !/status of 401 \(Unauthorized\)/.test(msg.text()))
      problems.push(msg.text());
  });
  page.on('response', (response) => {
    const sent = response.request().headers().authorization;
    if (response.status() === 401 && sent === `Bearer ${collector.adminToken}`) {
      problems.push(`${response.url()} answered 401 to the admin token`);
    }
  });
  await page.goto(`${collector.url}/`);

  // A wrong token is refused on the sign-in form.
  await page.fill('#token', 'not-the-admin-token');
  await page.click('form#login button[type=submit]');
  await page.locator('#login-error').filter({ hasText: 'refused' }).waitFor({ timeout: 10_000 });

  await page.fill('#token', collector.adminToken);
  await page.click('form#login button[type=submit]');
  const row = page.locator('#agents tbody tr', { hasText: hostname });
  await row.waitFor({ timeout: 15_000 });
  const rowText = (await row.textContent()) ?? '';
  assert.match(rowText, /online/);
  assert.match(rowText, /\d+\.\d+\.\d+/);
  assert.match(rowText, /\d+s ago/);

  const cpuLine = page.locator('svg.chart[data-metric="system.cpu.utilization"] polyline');
  await cpuLine.first().waitFor({ timeout: 15_000 });
  const points = (await cpuLine.first().getAttribute('points')) ?? '';
  assert.ok(points.split(' ').length >= 2, `a CPU line with points: "${points}"`);
  for (const name of ['system.memory.usage', 'system.filesystem.usage', 'system.network.io']) {
    assert.equal(await page.locator(`svg.chart[data-metric="${name}"]`).count(), 1, `${name} chart`);
  }
  assert.match(
    await page
      .locator('.host figcaption')
      .allInnerTexts()
      .then((t) => t.join(',')),
    /CPU utilization,Memory usage,Disk usage,Network I\/O/,
  );

  // The rule fires on the next evaluation; the page shows it at its next refresh (or a reload).
  await waitFor('the alert firing', async () => {
    const { alerts } = await collector.api<{ alerts: unknown[] }>('/api/v1/alert/alerts?state=firing');
    return alerts.length > 0 ? true : undefined;
  });
  await page.reload();
  const alert = page.locator('#firing tbody tr', { hasText: 'host is up' });
  await alert.waitFor({ timeout: 15_000 });
  assert.match((await alert.textContent()) ?? '', new RegExp(hostname));
  await page.locator('#history tbody tr', { hasText: 'firing' }).first().waitFor({ timeout: 5_000 });
  assert.ok(
    metricQueries.every((url) => url.includes('resolution=auto')),
    metricQueries[0],
  );

  // Seven days are drawn from the hourly rollups the retention sweep writes (every 500ms here).
  await page.selectOption('#hours', '168');
  const hourlyCpu = page.locator(
    'figure[data-resolution="hour"] svg.chart[data-metric="system.cpu.utilization"]',
  );
  // One hour of rollups is one point: drawn as a dot, two or more as a line.
  await hourlyCpu.locator('circle, polyline[points*=" "]').first().waitFor({ timeout: 15_000 });
  assert.match(
    (await hourlyCpu.locator('polyline').first().getAttribute('points')) ?? '',
    /^\d+(\.\d+)?,\d+(\.\d+)?/,
  );
  assert.match(
    (await page.locator('.host figcaption').first().textContent()) ?? '',
    /^CPU utilization \(hourly\)$/,
  );
  assert.ok(metricQueries.some((url) => url.includes('resolution=hour')));
  assert.deepEqual(problems, []);
});
