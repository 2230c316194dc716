export type { AttrValue, OutpostRecord, RecordKind } from './record.ts';
