import binding from 'zstd-napi/binding.js';
import { isOutpostError } from '../errors.ts';
import { badBody, badCompressedBody, decompressedTooLarge, unsupportedEncoding } from './errors.ts';

export interface DecodedBody {
  /** The parsed JSON. */
  value: unknown;
  /** The JSON text, decompressed. */
  bytes: Buffer;
}

export interface DecodeLimits {
  maxDecompressedBytes: number;
}

const OUT_CHUNK = binding.dStreamOutSize();

/**
 * One context and output chunk for every body: decoding is synchronous, and a fresh context per
 * body (its allocation and tables) cost about 40 µs, a fixed price that small batches paid per
 * record. zstd itself frees a window buffer that stays much larger than recent frames need.
 */
let shared: { dctx: binding.DCtx; out: Buffer } | undefined;

/**
 * Undoes the Content-Encoding (zstd or identity) and parses the JSON body. Throws
 * E_UNSUPPORTED_ENCODING, E_BAD_COMPRESSED_BODY, E_DECOMPRESSED_TOO_LARGE or E_BAD_BODY.
 */
export function decodeBody(
  raw: Buffer,
  contentEncoding: string | undefined,
  limits: DecodeLimits,
): DecodedBody {
  const encoding = (contentEncoding ?? '').trim().toLowerCase();
  let bytes: Buffer;
  if (encoding === 'zstd') bytes = zstdDecompress(raw, limits.maxDecompressedBytes);
  else if (encoding === '' || encoding === 'identity') bytes = raw;
  else throw unsupportedEncoding(contentEncoding ?? '');
  return { value: parseJson(bytes), bytes };
}

/**
 * Decompresses with the streaming API into fixed-size chunks and stops as soon as the output passes
 * `maxBytes`, so a zip bomb costs at most the limit plus one chunk of memory. The high-level
 * Decompressor trusts the frame's declared size and DecompressStream drains a whole input chunk
 * before a consumer can stop it, so neither bounds memory on their own.
 */
export function zstdDecompress(input: Uint8Array, maxBytes: number): Buffer {
  if (input.length === 0) throw badCompressedBody('the body is empty');
  shared ??= { dctx: new binding.DCtx(), out: Buffer.allocUnsafe(OUT_CHUNK) };
  const { dctx, out } = shared;
  // Also drops what a previous body left behind when it failed midway.
  dctx.reset(binding.ResetDirective.sessionAndParameters);
  dctx.setParameter(binding.DParameter.windowLogMax, windowLogMax(maxBytes));
  const chunks: Buffer[] = [];
  let total = 0;
  let src = input;
  let inFrame = false;
  try {
    for (;;) {
      const [remaining, produced, consumed] = dctx.decompressStream(out, src);
      src = src.subarray(consumed);
      if (produced > 0) {
        total += produced;
        if (total > maxBytes) throw decompressedTooLarge(maxBytes);
        chunks.push(Buffer.from(out.subarray(0, produced)));
      }
      inFrame = remaining !== 0;
      if (src.length === 0 && produced < out.length) break;
    }
  } catch (err) {
    if (isOutpostError(err)) throw err;
    const message = err instanceof Error ? err.message : String(err);
    throw badCompressedBody(
      /too much memory/i.test(message)
        ? `the frame needs a window over ${2 ** windowLogMax(maxBytes)} bytes; compress with a smaller window (default levels do)`
        : message,
    );
  }
  if (inFrame) throw badCompressedBody('the frame is truncated');
  return Buffer.concat(chunks, total);
}

/**
 * Refuses frames whose window would make the decoder allocate more than the output we accept before
 * producing a byte. Never below 2^23: that is the window of every level up to 19, so a small
 * max_decompressed_bytes does not turn away frames from a normally configured compressor.
 */
function windowLogMax(maxBytes: number): number {
  return Math.min(27, Math.max(23, Math.ceil(Math.log2(maxBytes))));
}

function parseJson(bytes: Buffer): unknown {
  if (bytes.length === 0) throw badBody('body: required (a JSON object), received an empty body');
  // JSON.parse keeps "__proto__" as an own key, and copying such an object can swap its prototype:
  // refused outright, as fastify's own JSON parser does.
  if (bytes.includes('"__proto__"')) throw badBody('body: "__proto__" keys are not allowed');
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch (err) {
    throw badBody(`body is not valid JSON: ${(err as Error).message}`);
  }
}
