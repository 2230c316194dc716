import { badFleetBody } from './errors.ts';

export type Labels = Record<string, string>;

/** The labels selectors match against: the agent's own, with the admin's set over them. */
export function effectiveLabels(reported: Labels, admin: Labels | null): Labels {
  return { ...reported, ...(admin ?? {}) };
}

/** True when every pair of the selector is among the labels; an empty selector matches every agent. */
export function selectorMatches(selector: Labels, labels: Labels): boolean {
  return Object.entries(selector).every(([key, value]) => labels[key] === value);
}

const PAIR = /^([A-Za-z0-9_.\-/]+)=([^,]*)$/;

/** Parses "env=prod,role=web" (the CLI and query form); "" is the empty selector. */
export function parseSelector(text: string, where: string): Labels {
  const selector: Labels = {};
  if (text.trim() === '') return selector;
  for (const part of text.split(',')) {
    const match = PAIR.exec(part.trim());
    if (!match) throw badFleetBody(`${where}: "${part}" is not key=value (e.g. env=prod,role=web)`);
    selector[match[1]!] = match[2]!;
  }
  return selector;
}

export function formatSelector(selector: Labels): string {
  return Object.keys(selector)
    .sort()
    .map((key) => `${key}=${selector[key]}`)
    .join(',');
}

/** A config target, as stored: one agent, or every agent a label selector matches. */
export type ConfigTarget = { agent: string } | { labels: Labels };

export function targetKey(target: ConfigTarget): string {
  return 'agent' in target ? `agent:${target.agent}` : `labels:${formatSelector(target.labels)}`;
}

export function parseTargetKey(key: string): ConfigTarget {
  if (key.startsWith('agent:')) return { agent: key.slice('agent:'.length) };
  return { labels: parseSelector(key.slice('labels:'.length), 'target') };
}

/**
 * How specifically a stored target names an agent: its own target outranks any selector, and a
 * selector with more pairs outranks one with fewer. Undefined when the target does not apply.
 */
export function targetRank(key: string, agentId: string, labels: Labels): number | undefined {
  const target = parseTargetKey(key);
  if ('agent' in target) return target.agent === agentId ? Number.MAX_SAFE_INTEGER : undefined;
  return selectorMatches(target.labels, labels) ? Object.keys(target.labels).length : undefined;
}
