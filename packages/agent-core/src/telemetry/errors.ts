import { OutpostError } from '../errors.ts';

export const metricsListenFailed = (listen: string, cause: unknown) => {
  const code = (cause as NodeJS.ErrnoException).code;
  const reason =
    code === 'EADDRINUSE'
      ? 'address already in use (another exporter or agent on that port?)'
      : code === 'EADDRNOTAVAIL'
        ? 'no such local address'
        : cause instanceof Error
          ? cause.message
          : String(cause);
  return new OutpostError(
    'E_METRICS_LISTEN',
    `metrics.listen: cannot listen on ${listen}: ${reason}; change metrics.listen or set it to null`,
    { listen },
    { cause },
  );
};

export const metricsListenerClosed = () =>
  new OutpostError('E_METRICS_CLOSED', 'the metrics listener is closed');
