export { registerServiceCommands } from './command.ts';
