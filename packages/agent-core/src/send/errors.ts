import { OutpostError } from '../errors.ts';

export const senderClosed = (method: string) =>
  new OutpostError(
    'E_SENDER_CLOSED',
    `sender.${method}() called after close(); the sender is shut down, create a new one to send again`,
    { method },
  );

export const badSendOption = (name: string, value: unknown, expected: string) =>
  new OutpostError('E_SEND_CONFIG', `send option ${name} is ${String(value)}; expected ${expected}`, {
    name,
    value,
  });

export const badCollectorUrl = (url: string, reason: string) =>
  new OutpostError(
    'E_SEND_CONFIG',
    `collector URL "${url}" cannot be used to send data: ${reason}; set collector.url to http(s)://host[:port][/prefix]`,
    { url },
  );

export const transportClosed = () =>
  new OutpostError(
    'E_TRANSPORT_CLOSED',
    'transport.send() called after close(); its connections are gone, create a new transport',
  );
