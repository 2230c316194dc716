// The root export is bundled into every plugin and runs inside its isolate: keep it free of
// Node modules and of any runtime dependency.
export type {
  AlertAttrs,
  AlertInput,
  AlertRecord,
  AlertSeverity,
  AlertState,
  Capability,
  HttpRequest,
  HttpResponse,
  JsonValue,
  PluginClock,
  PluginContext,
  PluginDefinition,
  PluginFiles,
  PluginHttp,
  PluginLog,
  PluginState,
  RecordInput,
  TlsInfo,
} from './plugin.ts';
export { alert, CAPABILITIES, definePlugin, PLUGIN_API_VERSION } from './plugin.ts';
export type { AttrValue, OutpostRecord, RecordKind } from './record.ts';
