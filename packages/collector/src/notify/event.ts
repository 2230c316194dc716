import type { AlertInstance, AlertTransition } from '../store/index.ts';
import type { Channel } from './channels.ts';

/** What a webhook receives (JSON body), fixed when the notification is queued. */
export interface AlertEvent {
  version: 1;
  status: 'firing' | 'resolved';
  /** True for a repeat_interval reminder of an alert still firing. */
  repeat: boolean;
  alert: {
    key: string;
    name: string;
    ruleId: string | null;
    labels: Record<string, string>;
    value: number | null;
    since: number;
    source: string;
  };
  transition: { id: number; from: string; to: string; at: number } | null;
}

export function alertEvent(
  alert: AlertInstance,
  transition: Pick<AlertTransition, 'id' | 'from' | 'to' | 'at'> | null,
): AlertEvent {
  return {
    version: 1,
    status: alert.state === 'resolved' ? 'resolved' : 'firing',
    repeat: transition === null,
    alert: {
      key: alert.key,
      name: alert.name,
      ruleId: alert.ruleId,
      labels: alert.labels,
      value: alert.value,
      since: alert.since,
      source: alert.source,
    },
    transition,
  };
}

/** The HTTP body for a channel type. */
export function formatEvent(type: Channel['type'], event: AlertEvent): string {
  if (type === 'webhook') return JSON.stringify(event);
  const { labels } = event.alert;
  const where = labels.hostname ? ` on ${labels.hostname}` : '';
  const value = event.alert.value === null ? '' : ` (value ${event.alert.value})`;
  const head = event.status === 'resolved' ? 'RESOLVED' : event.repeat ? 'STILL FIRING' : 'FIRING';
  return JSON.stringify({ text: `[${head}] ${event.alert.name}${where}${value}` });
}
