import type { AlertInstance, AlertSource, AlertState } from '../store/index.ts';

/** What one evaluation saw for one condition. */
export interface Observation {
  key: string;
  ruleId: string | null;
  name: string;
  labels: Record<string, string>;
  value: number | null;
  source: AlertSource;
  /**
   * Rule conditions say whether they hold now (`active`); edge alerts say which state the agent's
   * rule put them in (`target`), and never pass through pending: the edge already waited.
   */
  active?: boolean;
  target?: 'firing' | 'resolved';
}

export interface Step {
  /** The instance to store; undefined when nothing is stored (a condition that never held). */
  next: AlertInstance | undefined;
  transitions: Array<{ from: AlertState; to: AlertState }>;
}

/**
 * The alert state machine: inactive|resolved -> pending -> firing -> resolved, with pending -> inactive
 * when the condition stops holding before `forMs`. A zero `forMs` fires at once.
 */
export function step(
  prev: AlertInstance | undefined,
  observation: Observation,
  forMs: number,
  now: number,
): Step {
  const from: AlertState = prev?.state ?? 'inactive';
  const goal = goalOf(from, observation, forMs, now - (prev?.since ?? now));
  const transitions: Step['transitions'] = [];
  let state = from;
  for (const to of goal) {
    transitions.push({ from: state, to });
    state = to;
  }
  if (!prev && state === 'inactive') return { next: undefined, transitions };
  return {
    next: {
      key: observation.key,
      ruleId: observation.ruleId,
      name: observation.name,
      labels: observation.labels,
      state,
      value: observation.value ?? prev?.value ?? null,
      since: transitions.length > 0 ? now : (prev?.since ?? now),
      updatedAt: now,
      source: observation.source,
    },
    transitions,
  };
}

/** The states entered, in order, from `from` given this observation. */
function goalOf(from: AlertState, observation: Observation, forMs: number, heldMs: number): AlertState[] {
  if (observation.target === 'firing') return from === 'firing' ? [] : ['firing'];
  if (observation.target === 'resolved') return from === 'firing' || from === 'pending' ? ['resolved'] : [];
  if (observation.active) {
    if (from === 'inactive' || from === 'resolved') return forMs <= 0 ? ['firing'] : ['pending'];
    if (from === 'pending' && heldMs >= forMs) return ['firing'];
    return [];
  }
  if (from === 'pending') return ['inactive'];
  if (from === 'firing') return ['resolved'];
  return [];
}
