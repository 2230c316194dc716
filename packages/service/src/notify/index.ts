export { type NotifierLogger, ServiceNotifier, type ServiceNotifierOptions } from './notifier.ts';
