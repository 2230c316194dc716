import v8 from 'node:v8';
import vm from 'node:vm';

export interface GcOptions {
  type?: 'major' | 'minor';
  /** 'async' runs the collection in a task of its own and returns a promise settled after it. */
  execution?: 'sync' | 'async';
  /** 'last-resort' is the memory-reducing collection V8 runs on a low-memory notification. */
  flavor?: 'regular' | 'last-resort';
}

/** V8's gc(); with `execution: 'async'` it returns a thenable from another context (not a Promise instance). */
export type GcFunction = (options?: GcOptions) => PromiseLike<void> | undefined;

let gc: GcFunction | undefined;

/**
 * V8's gc function, acquired once per process, without --expose-gc on the command line, which
 * would also put `gc` on the daemon's global object: the flag only decides what a context created
 * meanwhile gets.
 */
export function v8Gc(): GcFunction {
  if (gc === undefined) {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as GcFunction;
    v8.setFlagsFromString('--no-expose-gc');
  }
  return gc;
}
