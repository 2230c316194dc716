export { aggregate, compare, edgeObservation, observe, selects } from './conditions.ts';
export type { AlertEngineOptions } from './engine.ts';
export { AlertEngine, EDGE_CURSOR } from './engine.ts';
export type { Rule, RuleInput } from './rules.ts';
export { RULE_TYPES, ruleSchema } from './rules.ts';
export type { Observation, Step } from './state.ts';
export { step } from './state.ts';
