export type { Channel, ChannelInput, Matcher } from './channels.ts';
export { channelSchema, matcherSchema, matches, silenceSchema } from './channels.ts';
export type { BackoffPolicy, DeliveryResult, HttpPost } from './deliver.ts';
export { backoffMs, post } from './deliver.ts';
export type { AlertEvent } from './event.ts';
export { alertEvent, formatEvent } from './event.ts';
export type { NotificationSenderOptions, NotifyStats } from './sender.ts';
export { NotificationSender } from './sender.ts';
