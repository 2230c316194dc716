// The plugin-host child process: one PluginSandbox per loaded plugin, driven over IPC by PluginHost.
// V8 can abort the whole process on an isolate's out-of-memory; that is why this runs apart from
// the daemon.
// Nothing here may import the manifest parser or the config validator (zod, ajv, semver): the daemon
// sends both already checked (undici.test.ts fails when one of them loads here).
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import { PluginSandbox } from '@outpost/plugin-sdk/sandbox';
import { HeapTrim } from '../lifecycle/heap-trim.ts';
import type { HostMessage, HostRequest, LoadSpec, SandboxReport, WireError } from './protocol.ts';
import { FileStateStore } from './state.ts';

const sandboxes = new Map<string, PluginSandbox>();
// Loading the plugins grows the host's heap, and an idle host never runs V8's memory reducer: the
// daemon's quiet-time trim, here too (about 1 MB of RSS less idle, bench/idle.bench.ts).
const heapTrim = new HeapTrim();

function send(message: HostMessage): void {
  if (process.connected) process.send?.(message);
}

function toWire(err: unknown): WireError {
  const e = err as { code?: unknown; message?: unknown; details?: unknown };
  let details: Record<string, unknown> | undefined;
  try {
    details = e.details === undefined ? undefined : structuredClone(e.details as Record<string, unknown>);
  } catch {
    details = undefined;
  }
  return {
    code: typeof e.code === 'string' ? e.code : undefined,
    message: typeof e.message === 'string' ? e.message : String(err),
    details,
  };
}

async function unload(name: string): Promise<void> {
  const sandbox = sandboxes.get(name);
  if (sandbox === undefined) return;
  sandboxes.delete(name);
  if (sandbox.alive) await sandbox.stop().catch(() => {});
  await sandbox.dispose();
}

async function load(spec: LoadSpec): Promise<void> {
  await unload(spec.name);
  // The bytes that run are the bytes hashed here, whatever happened to the file since the daemon read it.
  const bytes = await fs.readFile(spec.entryPath).catch((err: NodeJS.ErrnoException) => {
    throw Object.assign(
      new Error(`plugin "${spec.name}": cannot read ${spec.entryPath} (${err.code ?? err.message})`),
      { code: 'E_PLUGIN_LOAD' },
    );
  });
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  if (sha256 !== spec.sha256) {
    throw Object.assign(
      new Error(
        `plugin "${spec.name}": ${spec.entryPath} changed since it was installed (sha256 ${sha256}, expected ${spec.sha256})`,
      ),
      { code: 'E_PLUGIN_SHA256' },
    );
  }
  const sandbox = await PluginSandbox.load({
    manifest: spec.manifest,
    code: bytes.toString('utf8'),
    config: spec.config,
    configValidated: true,
    limits: spec.limits,
    state: new FileStateStore({ file: spec.stateFile, plugin: spec.name, maxBytes: spec.maxStateBytes }),
    onLog: (entry) => send({ type: 'log', entry }),
    onCatastrophicError: (message) => {
      // V8 no longer controls that isolate's heap: the process is not safe to keep; the daemon
      // restarts it and reloads the plugins.
      send({ type: 'fatal', plugin: spec.name, message });
      setImmediate(() => process.exit(70));
    },
  });
  try {
    await sandbox.start();
  } catch (err) {
    await sandbox.dispose();
    throw err;
  }
  sandboxes.set(spec.name, sandbox);
}

function loaded(name: string): PluginSandbox {
  const sandbox = sandboxes.get(name);
  if (sandbox === undefined) {
    throw Object.assign(new Error(`plugin "${name}" is not loaded in the plugin host`), {
      code: 'E_PLUGIN_NOT_LOADED',
    });
  }
  return sandbox;
}

async function handle(request: HostRequest): Promise<unknown> {
  switch (request.op) {
    case 'load':
      return load(request.spec);
    case 'unload':
      return unload(request.name);
    case 'call':
      // Records stay JSON pieces here both ways: the daemon decodes and checks the output.
      return loaded(request.name).callJson(request.method, request.input);
    case 'stats': {
      const out: Record<string, SandboxReport> = {};
      for (const [name, sandbox] of sandboxes) out[name] = { ...sandbox.stats(), alive: sandbox.alive };
      return out;
    }
    case 'shutdown':
      await heapTrim.close();
      for (const name of [...sandboxes.keys()]) await unload(name);
      setImmediate(() => process.disconnect());
      return undefined;
  }
}

process.on('message', (request: HostRequest) => {
  handle(request).then(
    (value) => send({ type: 'reply', id: request.id, ok: true, value }),
    (err: unknown) => send({ type: 'reply', id: request.id, ok: false, error: toWire(err) }),
  );
});
// The daemon is gone: nobody is left to supervise or read what the plugins produce.
process.on('disconnect', () => process.exit(0));
heapTrim.start();
send({ type: 'ready' });
