/** A plugin in the collector's plugin store: `name` (the newest version) or `name@version`. */
export interface StoreSpec {
  name: string;
  version?: string;
}

const SPEC = /^((?:@[a-z0-9][\w.-]*\/)?[a-z0-9][\w.-]*)(?:@([0-9A-Za-z][0-9A-Za-z.+-]*))?$/;

/** `name` or `name@version` (a scoped name keeps its leading @); null when it is neither. */
export function parseStoreSpec(spec: string): StoreSpec | null {
  const match = SPEC.exec(spec);
  if (!match?.[1]) return null;
  return match[2] === undefined ? { name: match[1] } : { name: match[1], version: match[2] };
}
