import { OutpostError } from '../../errors.ts';

export const logfileBadOptions = (input: string, message: string) =>
  new OutpostError('E_LOGFILE_OPTIONS', `log input "${input}": ${message}`, { input });

export const logfileNoCursors = (input: string) =>
  new OutpostError(
    'E_LOGFILE_OPTIONS',
    `log input "${input}" needs readCursors (the queue's committed cursors) to resume where it stopped`,
    { input },
  );
