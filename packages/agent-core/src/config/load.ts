import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue, configNotFound, configUnreadable } from './errors.ts';
import { interpolate } from './interpolate.ts';
import {
  type AgentConfig,
  configSchema,
  defaultsFromEnv,
  finishConfig,
  issueMessage,
  type UnknownKeyParams,
} from './schema.ts';
import { closest } from './suggest.ts';

export const DEFAULT_CONFIG_PATH = '/etc/outpost/agent.yaml';

export interface LoadedConfig {
  config: AgentConfig;
  /** Absolute path of the file read; null when running on defaults alone. */
  path: string | null;
  /** "sha256:<hex>" of the file's text, or "defaults"; reported in heartbeats. */
  version: string;
}

export interface LoadConfigOptions {
  /** Explicit file; it must exist. Without it, DEFAULT_CONFIG_PATH is used if it exists. */
  path?: string;
  env?: NodeJS.ProcessEnv;
}

/** The config the agent runs with when there is no file at all. */
export function defaultConfig(env: NodeJS.ProcessEnv = process.env): AgentConfig {
  return finishConfig(configSchema(defaultsFromEnv(env)).parse({}), process.cwd());
}

export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const file = path.resolve(options.path ?? DEFAULT_CONFIG_PATH);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && options.path === undefined) {
      return { config: defaultConfig(env), path: null, version: 'defaults' };
    }
    if (code === 'ENOENT') throw configNotFound(file);
    throw configUnreadable(file, err as Error);
  }
  return parseConfig(text, { path: file, env });
}

export interface ParseConfigOptions {
  /** Named in every issue; relative paths in the file resolve against its directory. */
  path: string;
  env?: NodeJS.ProcessEnv;
}

/** Validates config text; throws ConfigError listing every problem with file:line:column. */
export function parseConfig(text: string, options: ParseConfigOptions): LoadedConfig {
  const env = options.env ?? process.env;
  const file = options.path;
  const interpolated = interpolate(text, env);
  const lines = lineCounterFor(text);
  const issues: ConfigIssue[] = [];
  const issueAt = (sourceOffset: number, key: string, message: string) => {
    const { line, col } = lines.linePos(sourceOffset);
    issues.push({ file, line, column: col, key, message });
  };

  const doc = parseDocument(interpolated.text, { prettyErrors: false, uniqueKeys: true });
  for (const issue of interpolated.issues) {
    issueAt(issue.sourceOffset, formatKey(keyPathAt(doc.contents, issue.offset)), issue.message);
  }
  for (const error of doc.errors) {
    issueAt(interpolated.sourceOffset(error.pos[0]), '', firstLine(error.message));
  }

  let raw: unknown;
  if (doc.errors.length === 0) {
    try {
      raw = doc.toJS({ maxAliasCount: 100 }) ?? {};
    } catch (err) {
      issueAt(0, '', (err as Error).message);
    }
  }
  if (raw !== undefined && (typeof raw !== 'object' || Array.isArray(raw))) {
    issueAt(interpolated.sourceOffset(doc.contents?.range?.[0] ?? 0), '', 'expected a mapping of sections');
    raw = undefined;
  }

  let parsed: z.output<ReturnType<typeof configSchema>> | undefined;
  if (raw !== undefined) {
    const result = configSchema(defaultsFromEnv(env)).safeParse(emptyToUndefined(raw), {
      error: issueMessage,
    });
    if (result.success) parsed = result.data;
    else {
      for (const issue of result.error.issues) {
        const keyPath = issue.path as Array<string | number>;
        const params = issue.code === 'custom' ? (issue.params as UnknownKeyParams | undefined) : undefined;
        let message = issue.message;
        if (params?.unknownKey) {
          const name = String(keyPath[keyPath.length - 1]);
          const suggestion = closest(name, params.known);
          message = suggestion === undefined ? 'unknown key' : `unknown key (did you mean "${suggestion}"?)`;
        }
        const offset = offsetOf(doc.contents, keyPath, params?.unknownKey === true);
        issueAt(interpolated.sourceOffset(offset), formatKey(keyPath), message);
      }
    }
  }

  if (issues.length > 0 || parsed === undefined) {
    issues.sort((a, b) => a.line - b.line || a.column - b.column);
    throw new ConfigError(issues);
  }
  return {
    config: finishConfig(parsed, path.dirname(path.resolve(file))),
    path: file,
    version: `sha256:${createHash('sha256').update(text).digest('hex')}`,
  };
}

function lineCounterFor(text: string): LineCounter {
  const counter = new LineCounter();
  counter.addNewLine(0);
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) counter.addNewLine(i + 1);
  return counter;
}

function firstLine(message: string): string {
  // yaml appends " at line L, column C:" and a code excerpt; the issue carries its own position.
  return (message.split('\n')[0] as string).replace(/ at line \d+, column \d+:?$/, '');
}

/** An empty YAML value (`key:`) means "use the default", like an absent key. */
function emptyToUndefined(value: unknown): unknown {
  if (value === null) return undefined;
  if (Array.isArray(value)) return value.map((item) => (item === null ? item : emptyToUndefined(item)));
  if (typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, emptyToUndefined(v)]));
  }
  return value;
}

export function formatKey(keyPath: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of keyPath) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

const keyOf = (node: unknown): unknown => (isScalar(node) ? node.value : node);

/**
 * Offset of the node at `keyPath` (its key when `atKey`), or of the closest ancestor present in
 * the file: a value that comes from a default is reported where its section is.
 */
function offsetOf(root: Node | null, keyPath: ReadonlyArray<PropertyKey>, atKey: boolean): number {
  let node: Node | null = root;
  let best = root?.range?.[0] ?? 0;
  for (const [i, part] of keyPath.entries()) {
    if (isMap(node)) {
      const pair = node.items.find((p) => String(keyOf(p.key)) === String(part));
      if (pair === undefined) break;
      const keyNode = pair.key as Node | null;
      const last = i === keyPath.length - 1;
      if (last && atKey && keyNode?.range) return keyNode.range[0];
      const value = pair.value as Node | null;
      best =
        value?.range && !(isScalar(value) && value.value === null)
          ? value.range[0]
          : (keyNode?.range?.[0] ?? best);
      node = value;
    } else if (isSeq(node) && typeof part === 'number') {
      const item = node.items[part] as Node | undefined;
      if (!item?.range) break;
      best = item.range[0];
      node = item;
    } else break;
  }
  return best;
}

/** The key path whose value contains `offset`, to name the key an interpolation issue belongs to. */
function keyPathAt(
  node: Node | null,
  offset: number,
  prefix: Array<string | number> = [],
): Array<string | number> {
  // Inclusive end: an empty substitution leaves a zero-length value at the very end of its map.
  const contains = (n: Node | null | undefined) => !!n?.range && n.range[0] <= offset && offset <= n.range[2];
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = String(keyOf(pair.key));
      if (contains(pair.value as Node | null)) return keyPathAt(pair.value as Node, offset, [...prefix, key]);
      if (contains(pair.key as Node | null)) return [...prefix, key];
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      if (contains(item as Node | null)) return keyPathAt(item as Node, offset, [...prefix, i]);
    }
  }
  return prefix;
}
