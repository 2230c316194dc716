import type { AttrValue, OutpostRecord } from '@outpost/plugin-sdk';
import type { StageConfig } from './schema.ts';
import type { ApplyRecord } from './stage.ts';

interface Redaction {
  re: RegExp;
  replacement: string;
}

/**
 * transform: rename, then add, then remove attrs, then redact. Redaction runs on the body and on
 * every string attr, including what parse just extracted, so a secret never reaches the queue.
 * A replacement may refer to groups ("$1[REDACTED]") as String.replace does.
 */
export function createTransform(config: StageConfig<'transform'>): ApplyRecord {
  const renames = new Map(Object.entries(config.rename ?? {}));
  const removed = new Set(config.remove ?? []);
  const added = Object.entries(config.add ?? {});
  const reshape = renames.size > 0 || removed.size > 0 || added.length > 0;
  const redactions: Redaction[] = (config.redact ?? []).map((r) => ({
    re: new RegExp(r.pattern, 'g'),
    replacement: r.replacement,
  }));

  const redact = (text: string): string => {
    let out = text;
    for (const { re, replacement } of redactions) out = out.replace(re, replacement);
    return out;
  };

  return (record) => {
    let attrs = record.attrs;
    let owned = false;
    if (reshape) {
      const next: Record<string, AttrValue> = {};
      for (const key in attrs) {
        const target = renames.get(key) ?? key;
        if (!removed.has(target)) next[target] = attrs[key] as AttrValue;
      }
      for (const [key, value] of added) if (!removed.has(key)) next[key] = value;
      attrs = next;
      owned = true;
    }
    let body = record.body;
    if (redactions.length > 0) {
      if (body !== undefined) body = redact(body);
      for (const key in attrs) {
        const value = attrs[key];
        if (typeof value !== 'string') continue;
        const redacted = redact(value);
        if (redacted === value) continue;
        if (!owned) {
          attrs = { ...attrs };
          owned = true;
        }
        attrs[key] = redacted;
      }
    }
    if (!owned && body === record.body) return record;
    const out: OutpostRecord = { ...record, attrs };
    if (body !== undefined) out.body = body;
    return out;
  };
}
