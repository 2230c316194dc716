import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { type Logger, pino } from 'pino';
import type { Registry } from 'prom-client';
import { AlertEngine, EDGE_CURSOR } from './alerts/index.ts';
import { buildApi } from './api/index.ts';
import { type CollectorTokens, resolveTokens } from './auth/index.ts';
import { type CollectorConfig, formatListen } from './config/index.ts';
import { OutpostError } from './errors.ts';
import { Forwarding } from './forward/index.ts';
import { NotificationSender } from './notify/index.ts';
import { Retention } from './retention/index.ts';
import { openSqliteStore, type Store } from './store/index.ts';

export interface CreateCollectorOptions {
  /** From loadCollectorConfig(). */
  config: CollectorConfig;
  /** Defaults to pino JSON lines on stdout at config.log.level. */
  logger?: Logger | undefined;
  /** How long close() waits for in-flight requests before cutting their connections. */
  shutdownGraceMs?: number | undefined;
}

export interface Collector {
  /** The bound URL, e.g. http://127.0.0.1:7410 (the real port when 0 was asked). */
  readonly url: string;
  readonly store: Store;
  readonly config: CollectorConfig;
  readonly tokens: CollectorTokens;
  /** Stops accepting, waits for in-flight requests, closes the store. Returns the same promise twice. */
  close(): Promise<void>;
}

export const DATABASE_FILE = 'collector.db';

export const listenFailed = (address: string, cause: unknown) => {
  const reason =
    (cause as NodeJS.ErrnoException).code === 'EADDRINUSE'
      ? 'address already in use'
      : (cause as NodeJS.ErrnoException).code === 'EACCES'
        ? 'permission denied'
        : cause instanceof Error
          ? cause.message
          : String(cause);
  return new OutpostError(
    'E_LISTEN_FAILED',
    `cannot listen on ${address}: ${reason}`,
    { address },
    { cause },
  );
};

export const dataDirUnusable = (dir: string, cause: unknown) =>
  new OutpostError(
    'E_DATA_DIR',
    `cannot use data dir ${dir}: ${cause instanceof Error ? cause.message : String(cause)}`,
    { dir },
    { cause },
  );

/**
 * Starts a collector: data dir and tokens, the store (migrated), then the HTTP API. Logs
 * "collector listening" with the bound URL once it accepts requests.
 */
export async function createCollector(options: CreateCollectorOptions): Promise<Collector> {
  const { config } = options;
  const logger = options.logger ?? pino({ name: 'outpost-collector', level: config.log.level });
  try {
    await mkdir(config.dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw dataDirUnusable(config.dataDir, err);
  }
  const tokens = await resolveTokens({
    dataDir: config.dataDir,
    enrollmentToken: config.enrollmentToken,
    adminToken: config.adminToken,
    logger,
  });
  const storageFile = path.join(config.dataDir, DATABASE_FILE);
  const store = await openSqliteStore({ file: storageFile, logger });
  const background = startBackground(config, store, logger);

  let closing = false;
  const app = buildApi({
    store,
    tokens,
    limits: config.limits,
    offlineAfterMs: config.agents.offlineAfterMs,
    logger,
    isClosing: () => closing,
    storageFile,
    trustedProxies: config.server.trustedProxies,
    alertHooks: background.hooks,
  });
  try {
    await app.listen({ host: config.listen.host, port: config.listen.port });
  } catch (err) {
    await app.close().catch(() => {});
    await background.close();
    await store.close();
    throw listenFailed(formatListen(config.listen), err);
  }
  const address = app.server.address() as AddressInfo;
  const url = `http://${formatListen({ host: address.address, port: address.port })}`;
  logger.info(
    {
      url,
      dataDir: config.dataDir,
      enrollmentTokenFile: tokens.enrollmentTokenFile,
      adminTokenFile: tokens.adminTokenFile,
    },
    'collector listening',
  );

  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= (async () => {
      closing = true;
      // Requests already running finish; connections still busy after the grace period are cut so
      // one stalled client cannot hold shutdown forever.
      const grace = setTimeout(() => app.server.closeAllConnections(), options.shutdownGraceMs ?? 10_000);
      grace.unref();
      try {
        await app.close();
      } finally {
        clearTimeout(grace);
        await background.close();
        await store.close();
      }
      logger.info({ url }, 'collector stopped');
    })();
    return closed;
  };

  return { url, store, config, tokens, close };
}

/** Alert evaluation, notification delivery, forwarding and retention: they stop before the store closes. */
function startBackground(config: CollectorConfig, store: Store, logger: Logger) {
  const sender = new NotificationSender({ store, logger });
  const engine = new AlertEngine({
    store,
    logger,
    offlineAfterMs: config.agents.offlineAfterMs,
    intervalMs: config.alerts.evaluateIntervalMs,
    onNotificationsQueued: () => sender.wake(),
  });
  const forwarding = new Forwarding({ sinks: config.forward, store, logger });
  forwarding.start();
  const retention = new Retention({
    store,
    logger,
    ...config.retention,
    holdCursors: () => [...forwarding.cursorNames, EDGE_CURSOR],
  });
  engine.requestEvaluation();
  sender.wake();
  let closed: Promise<void> | undefined;
  return {
    hooks: {
      afterIngest: () => {
        engine.requestEvaluation();
        forwarding.wake();
      },
      onChange: () => engine.requestEvaluation(),
      registerMetrics: (registry: Registry) => {
        forwarding.registerMetrics(registry);
        sender.registerMetrics(registry);
        engine.registerMetrics(registry);
      },
    },
    close: () => {
      closed ??= (async () => {
        await Promise.all([engine.close(), retention.close(), forwarding.close()]);
        await sender.close();
      })();
      return closed;
    },
  };
}
