/**
 * Records cross the plugin boundaries (daemon, plugin host, isolate) as JSON text in pieces: a list
 * is cut into JSON arrays of at most RECORDS_PER_PIECE records, whose elements, in order, make the
 * list; any other value is one piece. A batch of 1000 records as one string is 200 KB or more: V8
 * puts such a string in its large-object space, mapped and unmapped for each batch, and the page
 * faults added about a third to the cost of the JSON itself. Pieces of 128 records stay in the
 * young generation (500-byte records still make a 64 KB piece, under V8's 128 KB threshold).
 */
export const RECORDS_PER_PIECE = 128;

/** JSON text of `value` in pieces (see RECORDS_PER_PIECE); `[]` is one piece, `"[]"`. */
export function toJsonPieces(value: unknown): string[] {
  if (!Array.isArray(value) || value.length <= RECORDS_PER_PIECE) return [JSON.stringify(value)];
  const pieces: string[] = [];
  for (let i = 0; i < value.length; i += RECORDS_PER_PIECE) {
    pieces.push(JSON.stringify(value.slice(i, i + RECORDS_PER_PIECE)));
  }
  return pieces;
}

/** Thrown by parseJsonPieces: pieces that are not JSON, or several that are not all arrays. */
export class PiecesProblem extends Error {}

/** The value toJsonPieces cut: one piece's value, or several arrays joined into one. */
export function parseJsonPieces(pieces: readonly string[]): unknown {
  if (pieces.length === 1) return parsePiece(pieces[0] as string);
  const out: unknown[] = [];
  for (const piece of pieces) {
    const part = parsePiece(piece);
    if (!Array.isArray(part)) throw new PiecesProblem('a value in several pieces must be arrays');
    for (let i = 0; i < part.length; i++) out.push(part[i]);
  }
  return out;
}

function parsePiece(piece: string): unknown {
  try {
    return JSON.parse(piece);
  } catch (err) {
    throw new PiecesProblem(`not JSON: ${(err as Error).message}`);
  }
}

/** A list of JSON pieces as received from elsewhere (IPC, the isolate): strings only. */
export function isJsonPieces(value: unknown): value is string[] {
  if (!Array.isArray(value)) return false;
  for (const piece of value) if (typeof piece !== 'string') return false;
  return true;
}
