export { registerStatusPage, STATIC_DIR } from './status-page.ts';
