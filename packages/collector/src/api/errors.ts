import type { Socket } from 'node:net';
import { isOutpostError, OutpostError } from '../errors.ts';

/** Each error code has one HTTP status (docs/protocol.md, "Errors"). */
export const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  E_BAD_BODY: 400,
  E_BAD_COMPRESSED_BODY: 400,
  E_BAD_QUERY: 400,
  E_BAD_REQUEST: 400,
  E_UNAUTHORIZED: 401,
  E_ENROLLMENT_TOKEN_INVALID: 401,
  E_FORBIDDEN: 403,
  E_AGENT_REVOKED: 403,
  E_NOT_FOUND: 404,
  E_IDEMPOTENCY_CONFLICT: 409,
  E_PLUGIN_VERSION_EXISTS: 409,
  E_PLUGIN_IN_USE: 409,
  E_BODY_TOO_LARGE: 413,
  E_DECOMPRESSED_TOO_LARGE: 413,
  E_UNSUPPORTED_ENCODING: 415,
  E_UNSUPPORTED_MEDIA_TYPE: 415,
  E_RATE_LIMITED: 429,
  E_HEADERS_TOO_LARGE: 431,
  E_INTERNAL: 500,
  E_NOT_READY: 503,
};

export const RETRY_AFTER_SECONDS = 5;

export const notFound = (message: string) => new OutpostError('E_NOT_FOUND', message);
export const badQuery = (message: string) => new OutpostError('E_BAD_QUERY', message);
export const notReady = (why: string) =>
  new OutpostError('E_NOT_READY', `collector is not ready: ${why}; retry later`, {
    retryAfterSeconds: RETRY_AFTER_SECONDS,
  });

export interface ErrorReply {
  status: number;
  code: string;
  message: string;
}

/** Maps any error (ours, fastify's, or a bug) to the one wire shape. */
export function toErrorReply(
  err: unknown,
  limits: { maxBodyBytes: number },
  /** The route's own body limit, when it sets one below or above limits.max_body_bytes. */
  route?: { url: string | undefined; bodyLimit: number | undefined },
): ErrorReply {
  if (isOutpostError(err)) {
    if (err.code === 'E_STORE_CLOSED')
      return { status: 503, code: 'E_NOT_READY', message: notReady('shutting down').message };
    const status = STATUS_BY_CODE[err.code];
    if (status !== undefined) return { status, code: err.code, message: err.message };
    return internal();
  }
  const fastifyError = err as { code?: string; statusCode?: number; message?: string };
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      if (route?.bodyLimit !== undefined && route.bodyLimit !== limits.maxBodyBytes) {
        return {
          status: 413,
          code: 'E_BODY_TOO_LARGE',
          message: `body is larger than ${route.url ?? 'this route'} accepts (${route.bodyLimit} bytes, as sent)`,
        };
      }
      return {
        status: 413,
        code: 'E_BODY_TOO_LARGE',
        message: `body is larger than limits.max_body_bytes (${limits.maxBodyBytes} bytes, as sent); send smaller batches`,
      };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
    case 'FST_ERR_CTP_INVALID_TYPE':
    case 'FST_ERR_CTP_INVALID_CONTENT_TYPE':
      return {
        status: 415,
        code: 'E_UNSUPPORTED_MEDIA_TYPE',
        message: 'Content-Type must be application/json',
      };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'E_BAD_BODY', message: `body is not valid JSON: ${fastifyError.message}` };
  }
  const status = fastifyError.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const code =
      status === 404
        ? 'E_NOT_FOUND'
        : status === 413
          ? 'E_BODY_TOO_LARGE'
          : status === 415
            ? 'E_UNSUPPORTED_MEDIA_TYPE'
            : status === 431
              ? 'E_HEADERS_TOO_LARGE'
              : 'E_BAD_REQUEST';
    return { status: STATUS_BY_CODE[code] ?? status, code, message: fastifyError.message ?? 'bad request' };
  }
  return internal();
}

function internal(): ErrorReply {
  return { status: 500, code: 'E_INTERNAL', message: 'internal error; the collector log has the details' };
}

export function errorBody(reply: ErrorReply): { error: { code: string; message: string } } {
  return { error: { code: reply.code, message: reply.message } };
}

/**
 * Answers requests Node's HTTP parser rejects before any route runs (malformed request line,
 * oversized headers), in the same JSON shape as everything else.
 */
export function writeClientError(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large', 'E_HEADERS_TOO_LARGE', 'request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout', 'E_BAD_REQUEST', 'request took too long to arrive']
        : [400, 'Bad Request', 'E_BAD_REQUEST', 'malformed HTTP request'];
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
