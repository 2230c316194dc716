/**
 * The code that runs first in every plugin isolate, as the body of a closure (isolated-vm's
 * evalClosure), before the plugin's bundle. It gets three host callbacks ($0 log, $1 clock, $2 start
 * a host call) and the settings as JSON ($3), builds the `ctx` the plugin sees, and returns the
 * three functions the host calls: attach (the bundle's namespace), dispatch (one capability call)
 * and settle (the answer to a host call).
 *
 * Everything crosses the boundary as strings or primitives (dispatch takes and returns arrays of
 * strings): records and answers are JSON, in pieces of settings.piece records (toJsonPieces in
 * ../records/pieces.ts says why), so no
 * object the plugin built (getters, proxies, prototypes) ever reaches the host, and nothing the host
 * holds is reachable from here. The plugin can tamper with the built-ins this code uses and so break
 * its own calls, but the host checks everything that comes out.
 */
export const BOOTSTRAP = `
'use strict';
const hostLog = $0, hostNow = $1, hostCall = $2;
const settings = JSON.parse($3);
const { parse, stringify } = JSON;
const apply = Reflect.apply;
const slice = Array.prototype.slice, concat = Array.prototype.concat, join = Array.prototype.join;
const freeze = Object.freeze;
const isArray = Array.isArray;
const ErrorCtor = Error, TypeErrorCtor = TypeError, PromiseCtor = Promise, StringCtor = String;

// Not part of the host API: shared memory and blocking waits, and WebAssembly memory that the
// isolate's memory limit does not see as heap.
delete globalThis.WebAssembly;
delete globalThis.SharedArrayBuffer;
delete globalThis.Atomics;

let plugin = null;
let call = null;
let pending = new Map();
let nextId = 0;

function text(value) {
  try {
    return typeof value === 'string' ? value : StringCtor(value);
  } catch {
    return '<unprintable>';
  }
}

function deepFreeze(value) {
  if (value !== null && typeof value === 'object') {
    for (const key of Object.keys(value)) deepFreeze(value[key]);
    freeze(value);
  }
  return value;
}

function log(level, message, attrs) {
  let attrsJson;
  if (attrs !== undefined) {
    try {
      attrsJson = stringify(attrs);
    } catch {}
  }
  hostLog(level, text(message), attrsJson);
}

function makeError(payload) {
  const err = new ErrorCtor(payload.message);
  err.code = payload.code;
  return err;
}

function hostRequest(kind, args) {
  return new PromiseCtor((resolve, reject) => {
    const id = ++nextId;
    pending.set(id, { resolve, reject });
    const refused = hostCall(id, kind, args);
    if (refused !== undefined) {
      pending.delete(id);
      reject(makeError(parse(refused)));
    }
  });
}

function emit(records) {
  const c = call;
  if (c === null || !c.canEmit) {
    throw new ErrorCtor('ctx.emit() is only available during collect, process, rule and action calls');
  }
  const list = isArray(records) ? records : [records];
  for (let i = 0; i < list.length; i++) {
    if (c.count >= settings.maxRecords) {
      c.overflow = 'more than ' + settings.maxRecords + ' records in one call (limits.maxRecordsPerCall)';
      throw new ErrorCtor('ctx.emit(): ' + c.overflow);
    }
    const json = stringify(list[i]);
    if (typeof json !== 'string' || json[0] !== '{') throw new TypeErrorCtor('ctx.emit(): a record must be an object');
    c.bytes += json.length;
    if (c.bytes > settings.maxOutputBytes) {
      c.overflow = 'more than ' + settings.maxOutputBytes + ' bytes of records in one call (limits.maxOutputBytes)';
      throw new ErrorCtor('ctx.emit(): ' + c.overflow);
    }
    c.emitted[c.count++] = json;
  }
}

const levels = ['debug', 'info', 'warn', 'error'];
const logApi = {};
for (const level of levels) logApi[level] = (message, attrs) => log(level, message, attrs);

const ctx = freeze({
  config: deepFreeze(parse(settings.config)),
  plugin: freeze({ name: settings.name, version: settings.version }),
  log: freeze(logApi),
  emit,
  state: freeze({
    get: (key) => hostRequest('state.get', stringify({ key: text(key) })),
    set: (key, value) => {
      let json;
      try {
        json = stringify(value);
      } catch (err) {
        return PromiseCtor.reject(err);
      }
      if (json === undefined) {
        return PromiseCtor.reject(new TypeErrorCtor('state.set(): the value must be JSON (state.delete() removes a key)'));
      }
      return hostRequest('state.set', stringify({ key: text(key), value: json }));
    },
    delete: (key) => hostRequest('state.delete', stringify({ key: text(key) })),
  }),
  clock: freeze({ now: () => hostNow() }),
  http: freeze({
    request: (request) => {
      let json;
      try {
        json = stringify(request);
      } catch (err) {
        return PromiseCtor.reject(err);
      }
      return hostRequest('http', json === undefined ? 'null' : json);
    },
  }),
  files: freeze({ read: (path) => hostRequest('files.read', stringify({ path: typeof path === 'string' ? path : null })) }),
});

const consoleLevel = { debug: 'debug', log: 'info', info: 'info', warn: 'warn', error: 'error' };
const consoleApi = {};
for (const name of Object.keys(consoleLevel)) {
  consoleApi[name] = (...args) => log(consoleLevel[name], args.map(text).join(' '));
}
globalThis.console = freeze(consoleApi);

function describeError(err) {
  const out = { name: 'Error', message: '' };
  try {
    if (err !== null && typeof err === 'object') {
      out.name = text(err.name);
      out.message = text(err.message);
      if (typeof err.stack === 'string') out.stack = err.stack.slice(0, 4000);
      if (typeof err.code === 'string') out.code = err.code;
    } else {
      out.name = typeof err;
      out.message = text(err);
    }
  } catch {
    out.message = '<unreadable error>';
  }
  return out;
}

function attach(namespace, capabilitiesJson) {
  const def = namespace.default;
  if (def === null || typeof def !== 'object') {
    return stringify({ error: 'the bundle has no default export object: end it with export default definePlugin({ ... })' });
  }
  const missing = parse(capabilitiesJson).filter((name) => typeof def[name] !== 'function');
  if (missing.length > 0) {
    return stringify({
      error: 'the manifest declares ' + missing.join(', ') + ' but the default export has no ' + missing.map((m) => m + '()').join(', '),
    });
  }
  plugin = def;
  return stringify({ start: typeof def.start === 'function', stop: typeof def.stop === 'function' });
}

// The input as toJsonPieces cut it: one piece holds the value, several are arrays to join.
function readInput(pieces) {
  if (pieces.length === 1) return parse(pieces[0]);
  const parts = [];
  for (let i = 0; i < pieces.length; i++) parts[i] = parse(pieces[i]);
  return apply(concat, [], parts);
}

// JSON pieces of a list, as toJsonPieces cuts them.
function listPieces(list, toJson) {
  const length = list.length;
  if (!(length > settings.piece)) return [toJson(list)];
  const pieces = [];
  for (let i = 0; i < length; i += settings.piece) pieces[pieces.length] = toJson(apply(slice, list, [i, i + settings.piece]));
  return pieces;
}

const joinJson = (jsons) => '[' + apply(join, jsons, [',']) + ']';

// Returns [status, returned, emitted]: the status is small JSON the host reads at once; returned
// and emitted, JSON pieces of the records, are decoded only where the records are needed
// (readPluginOutput).
async function dispatch(method, ...inputPieces) {
  const c = { canEmit: method !== 'start' && method !== 'stop', emitted: [], count: 0, bytes: 0, overflow: null };
  call = c;
  // Answers to host calls of an earlier call that ended are never delivered: forget them.
  pending = new Map();
  let received = 0;
  try {
    let result;
    try {
      const fn = plugin[method];
      if (inputPieces.length === 0) {
        result = await apply(fn, plugin, [ctx]);
      } else {
        const input = readInput(inputPieces);
        received = isArray(input) ? input.length : 1;
        result = await apply(fn, plugin, [input, ctx]);
      }
    } catch (err) {
      return [stringify({ ok: false, in: received, error: describeError(err) })];
    }
    let returned = ['null'];
    let produced = c.count;
    if (result !== undefined && c.canEmit) {
      try {
        if (isArray(result)) {
          returned = listPieces(result, stringify);
          const length = result.length;
          if (typeof length === 'number') produced += length;
        } else {
          returned = [stringify(result) ?? 'null'];
        }
      } catch (err) {
        return [stringify({ ok: false, in: received, output: 'the returned value is not JSON: ' + describeError(err).message })];
      }
    }
    // Put together from numbers and a string, not stringify({...}): the plugin may have set
    // Object.prototype.toJSON. (The host still reads the status as untrusted.)
    return [
      '{"ok":true,"in":' + received + ',"out":' + produced + ',"overflow":' + stringify(c.overflow) + '}',
      returned,
      listPieces(c.emitted, joinJson),
    ];
  } finally {
    if (call === c) call = null;
  }
}

function settle(id, ok, payload) {
  const entry = pending.get(id);
  if (entry === undefined) return;
  pending.delete(id);
  if (ok) entry.resolve(payload === undefined ? undefined : parse(payload));
  else entry.reject(makeError(parse(payload)));
}

return { attach, dispatch, settle };
`;
