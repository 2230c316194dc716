/**
 * What a control route may answer besides a JSON value: raw text with its own content type
 * (Prometheus exposition), or a stream of NDJSON lines (live records for `agentctl tap`).
 */
export class TextReply {
  readonly body: string;
  readonly contentType: string;

  constructor(body: string, contentType: string) {
    this.body = body;
    this.contentType = contentType;
  }
}

/** The route's end of an NDJSON stream. */
export interface ControlStream {
  /**
   * Writes one value as a JSON line. Returns false when the line was not written: the stream is
   * closed, or the client is not reading fast enough. A slow client loses lines (counted in
   * `dropped`) rather than growing the agent's memory.
   */
  write(value: unknown): boolean;
  /** Ends the stream from the route's side. */
  end(): void;
  /** Aborts when the client disconnects, the route ends the stream or the server closes. */
  readonly signal: AbortSignal;
  /** Lines not written because the client was behind. */
  readonly dropped: number;
}

export class StreamReply {
  readonly start: (stream: ControlStream) => void | Promise<void>;

  constructor(start: (stream: ControlStream) => void | Promise<void>) {
    this.start = start;
  }
}

/** Answers 200 with `body` as is, e.g. `textReply(await registry.metrics(), registry.contentType)`. */
export function textReply(body: string, contentType = 'text/plain; charset=utf-8'): TextReply {
  return new TextReply(body, contentType);
}

/**
 * Answers 200 with an NDJSON stream: `start` gets the stream right after the headers went out and
 * writes to it until `stream.signal` aborts.
 */
export function streamReply(start: (stream: ControlStream) => void | Promise<void>): StreamReply {
  return new StreamReply(start);
}
