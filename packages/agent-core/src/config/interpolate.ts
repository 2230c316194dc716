// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${VAR}" is the config interpolation syntax, not a mistaken template literal
import { Lexer } from 'yaml';

export interface InterpolationIssue {
  /** Offset of the "${" in the original text. */
  sourceOffset: number;
  /** Offset of the substituted text in the interpolated text, to find the key it belongs to. */
  offset: number;
  message: string;
}

export interface Interpolated {
  text: string;
  issues: InterpolationIssue[];
  /** Maps an offset in `text` back to the original text, so positions name what the user wrote. */
  sourceOffset(offset: number): number;
}

// A piece of output: copied verbatim from `source` (offsets map 1:1), or a substituted value
// (every offset inside maps to the "${" that produced it).
interface Segment {
  out: number;
  source: number;
  copied: boolean;
}

const REFERENCE_RE = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * Replaces `${VAR}` and `${VAR:-default}` (default when VAR is unset or empty) in raw config text;
 * `$${` stays a literal `${`. References inside YAML comments are left alone, so a commented-out
 * line never fails for a variable nobody set.
 */
export function interpolate(source: string, env: NodeJS.ProcessEnv): Interpolated {
  const comments = commentRanges(source);
  const segments: Segment[] = [];
  const issues: InterpolationIssue[] = [];
  let text = '';
  let copyFrom = 0;
  let comment = 0;

  const copy = (from: number, to: number) => {
    if (to <= from) return;
    segments.push({ out: text.length, source: from, copied: true });
    text += source.slice(from, to);
  };

  let i = source.indexOf('$');
  while (i !== -1) {
    while (comment < comments.length && (comments[comment] as [number, number])[1] <= i) comment++;
    const range = comments[comment];
    if (range !== undefined && range[0] <= i) {
      i = source.indexOf('$', range[1]);
      continue;
    }
    if (source.startsWith('$${', i)) {
      copy(copyFrom, i);
      copyFrom = i + 1;
      i = source.indexOf('$', i + 3);
      continue;
    }
    if (source[i + 1] !== '{') {
      i = source.indexOf('$', i + 1);
      continue;
    }
    const close = source.indexOf('}', i + 2);
    const newline = source.indexOf('\n', i + 2);
    if (close === -1 || (newline !== -1 && newline < close)) {
      issues.push({
        sourceOffset: i,
        offset: text.length + (i - copyFrom),
        message: 'unterminated "${": close it with "}", or write "$${" for a literal "${"',
      });
      i = source.indexOf('$', i + 2);
      continue;
    }
    const reference = source.slice(i + 2, close);
    const match = REFERENCE_RE.exec(reference);
    copy(copyFrom, i);
    copyFrom = close + 1;
    let value = '';
    if (match === null) {
      issues.push({
        sourceOffset: i,
        offset: text.length,
        message: `"\${${reference}}" is not a variable reference: write \${NAME} or \${NAME:-default}`,
      });
    } else {
      const [, name, fallback] = match as unknown as [string, string, string | undefined];
      const set = env[name];
      if (set !== undefined && (set !== '' || fallback === undefined)) value = set;
      else if (fallback !== undefined) value = fallback;
      else {
        issues.push({
          sourceOffset: i,
          offset: text.length,
          message: `environment variable ${name} is not set (give a default with \${${name}:-value})`,
        });
      }
    }
    segments.push({ out: text.length, source: i, copied: false });
    text += value;
    i = source.indexOf('$', close + 1);
  }
  copy(copyFrom, source.length);

  return {
    text,
    issues,
    sourceOffset(offset: number): number {
      let lo = 0;
      let hi = segments.length - 1;
      let found: Segment | undefined;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        const segment = segments[mid] as Segment;
        if (segment.out <= offset) {
          found = segment;
          lo = mid + 1;
        } else hi = mid - 1;
      }
      if (found === undefined) return offset;
      return found.copied ? found.source + (offset - found.out) : found.source;
    },
  };
}

// The yaml lexer emits these control tokens, which are not part of the source text.
const CONTROL_TOKENS = new Set(['\x02', '\x18', '\x1f']);
const SCALAR_TOKEN = '\x1f';

/** [start, end) of every YAML comment, sorted. */
function commentRanges(source: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let offset = 0;
  let previous = '';
  for (const token of new Lexer().lex(source)) {
    if (CONTROL_TOKENS.has(token)) {
      previous = token;
      continue;
    }
    // Losing track of offsets must not hide a reference: fall back to interpolating everywhere.
    if (!source.startsWith(token, offset)) return [];
    // A block scalar's body may start with "#"; the lexer marks it with a scalar token first.
    if (token.startsWith('#') && previous !== SCALAR_TOKEN) ranges.push([offset, offset + token.length]);
    offset += token.length;
    previous = token;
  }
  return ranges;
}
