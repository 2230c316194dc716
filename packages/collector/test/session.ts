import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { compress } from 'zstd-napi';
import { type Collector, createCollector, loadCollectorConfig } from '../src/index.ts';

/**
 * A user's session against a real collector: real server on 127.0.0.1 port 0, real SQLite in a
 * temp dir, real zstd, requests with the built-in fetch.
 */
export interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: tests assert answers field by field
  json: any;
}

export interface Agent {
  agentId: string;
  secret: string;
  auth: string;
}

export interface Session {
  collector: Collector;
  dataDir: string;
  admin: string;
  request(method: string, route: string, init?: RequestOptions): Promise<Answer>;
  register(hostname?: string): Promise<Agent>;
  sendBatch(agent: Agent, batchSeq: number, records: unknown[], init?: RequestOptions): Promise<Answer>;
  close(): Promise<void>;
}

export interface RequestOptions {
  auth?: string | undefined;
  /** An object is sent as JSON; a Buffer or string as is. */
  body?: unknown;
  headers?: Record<string, string>;
  zstd?: boolean;
}

export async function startSession(values: Record<string, unknown> = {}, dataDir?: string): Promise<Session> {
  const dir = dataDir ?? mkdtempSync(path.join(os.tmpdir(), 'outpost-collector-it-'));
  const config = await loadCollectorConfig({
    values: { listen: '127.0.0.1:0', data_dir: dir, ...values },
    env: {},
  });
  const collector = await createCollector({ config, logger: pino({ level: 'silent' }) });
  const admin = `Bearer ${collector.tokens.adminToken}`;

  const request = async (method: string, route: string, init: RequestOptions = {}): Promise<Answer> => {
    const headers: Record<string, string> = { ...init.headers };
    if (init.auth !== undefined) headers.authorization = init.auth;
    let body: Buffer | string | undefined;
    if (init.body !== undefined) {
      body =
        Buffer.isBuffer(init.body) || typeof init.body === 'string' ? init.body : JSON.stringify(init.body);
      headers['content-type'] ??= 'application/json';
      if (init.zstd) {
        body = compress(Buffer.from(body));
        headers['content-encoding'] = 'zstd';
      }
    }
    const response = await fetch(`${collector.url}${route}`, { method, headers, body });
    const text = await response.text();
    return {
      status: response.status,
      headers: response.headers,
      json: text === '' ? undefined : JSON.parse(text),
    };
  };

  const register = async (hostname = 'web-1'): Promise<Agent> => {
    const answer = await request('POST', '/api/v1/agent/register', {
      body: {
        enrollmentToken: collector.tokens.enrollmentToken,
        hostname,
        labels: { env: 'test' },
        version: '0.1.0',
      },
    });
    if (answer.status !== 200) throw new Error(`register failed: ${JSON.stringify(answer.json)}`);
    const { agentId, secret } = answer.json as { agentId: string; secret: string };
    return { agentId, secret, auth: `Bearer ${agentId}.${secret}` };
  };

  const sendBatch = (agent: Agent, batchSeq: number, records: unknown[], init: RequestOptions = {}) =>
    request('POST', '/api/v1/agent/data', {
      auth: agent.auth,
      body: {
        agent: { id: agent.agentId, hostname: 'web-1' },
        batch: { seq: batchSeq, createdAt: 1_764_061_200_000 + batchSeq },
        records,
      },
      ...init,
      headers: { 'idempotency-key': `${agent.agentId}-${batchSeq}`, ...init.headers },
    });

  return { collector, dataDir: dir, admin, request, register, sendBatch, close: () => collector.close() };
}

export function metric(seq: number, ts: number, name = 'system.cpu.utilization', value = seq / 100) {
  return { seq, kind: 'metric', ts, name, value, unit: '1', attrs: { cpu: 0 }, source: 'system' };
}

/** Polls `check` until it returns a value other than undefined, failing with what was last seen. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 5000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last seen: ${String(last)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
