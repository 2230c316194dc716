import { OutpostError } from '../errors.ts';

export const inputClosed = (name: string, method: string) =>
  new OutpostError('E_INPUT_CLOSED', `input "${name}" is closed; ${method}() is not allowed after close()`, {
    input: name,
  });
