export interface UnitOptions {
  /** Unit name without .service, e.g. outpost-agent. */
  name: string;
  description: string;
  /** Absolute argv: node, the bin's script, its flags. */
  execStart: string[];
  /** Whether the daemon re-reads its config on SIGHUP (ExecReload); without it SIGHUP would stop it. */
  reloadOnSighup: boolean;
  user: string;
  /** Under /var/lib; systemd creates it, owned by `user`, and exports $STATE_DIRECTORY. */
  stateDirectory: string;
  /** Under /etc; systemd creates it (root-owned, read-only to the service under ProtectSystem=strict). */
  configurationDirectory: string;
  /** Optional file of KEY=value lines (tokens), read if present. */
  environmentFile?: string;
  /** Extra writable paths besides the state directory (e.g. a state_dir outside /var/lib). */
  readWritePaths?: string[];
  /** Bytes; null leaves MemoryMax out. */
  memoryMax: number | null;
  /** Percent of one CPU; null leaves CPUQuota out. */
  cpuQuota: number | null;
  /** Above the daemon's own shutdown grace period, so systemd never kills a flush. */
  timeoutStopSec: number;
  /**
   * notify (the default): the daemon says READY, RELOADING, STOPPING and WATCHDOG through
   * systemd-notify (packages/service/src/notify). exec: for hosts whose systemd-notify cannot
   * (systemd < 246, or none); see notifySupport().
   */
  type?: 'notify' | 'exec';
  /**
   * WatchdogSec= for Type=notify: systemd restarts the daemon when its event loop has not pinged for
   * this long. null leaves the watchdog off.
   */
  watchdogSec: number | null;
}

/** Long enough that no busy daemon's event loop stalls that long; a stuck one restarts within a minute. */
export const DEFAULT_WATCHDOG_SEC = 60;

/** The systemd unit for an Outpost daemon. */
export function renderUnit(options: UnitOptions): string {
  const notify = (options.type ?? 'notify') === 'notify';
  const lines = [
    '# Written by Outpost; edits are overwritten by the next `service install`.',
    `# Local changes belong in a drop-in: systemctl edit ${options.name}`,
    '[Unit]',
    `Description=${options.description}`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    // NotifyAccess=all: the messages come from systemd-notify, a child of the main process.
    ...(notify ? ['Type=notify', 'NotifyAccess=all'] : ['Type=exec']),
    `User=${options.user}`,
    `Group=${options.user}`,
    `ExecStart=${options.execStart.map(quoteArg).join(' ')}`,
    ...(options.reloadOnSighup ? ['ExecReload=/bin/kill -HUP $MAINPID'] : []),
    'Restart=on-failure',
    'RestartSec=5s',
    `TimeoutStopSec=${options.timeoutStopSec}s`,
    ...(notify && options.watchdogSec !== null ? [`WatchdogSec=${options.watchdogSec}s`] : []),
    ...(options.environmentFile ? [`EnvironmentFile=-${options.environmentFile}`] : []),
    `StateDirectory=${options.stateDirectory}`,
    'StateDirectoryMode=0700',
    `ConfigurationDirectory=${options.configurationDirectory}`,
    '',
    '# Hardening',
    'NoNewPrivileges=yes',
    'ProtectSystem=strict',
    `ReadWritePaths=${[`/var/lib/${options.stateDirectory}`, ...(options.readWritePaths ?? [])].map(quoteArg).join(' ')}`,
    'ProtectHome=yes',
    'PrivateTmp=yes',
    'ProtectKernelTunables=yes',
    'ProtectKernelModules=yes',
    'ProtectControlGroups=yes',
    'RestrictSUIDSGID=yes',
    'LockPersonality=yes',
    ...(options.memoryMax === null ? [] : [`MemoryMax=${systemdBytes(options.memoryMax)}`]),
    ...(options.cpuQuota === null ? [] : [`CPUQuota=${options.cpuQuota}%`]),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ];
  return lines.join('\n');
}

/**
 * One ExecStart word: systemd expands % specifiers and $VARS and splits on whitespace, so those
 * are escaped or quoted.
 */
function quoteArg(arg: string): string {
  const escaped = arg.replaceAll('%', '%%').replaceAll('$', '$$$$');
  if (!/[\s"'\\;]/.test(escaped) && escaped !== '') return escaped;
  return `"${escaped.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/** systemd reads K, M, G, T as powers of 1024. */
function systemdBytes(bytes: number): string {
  for (const [suffix, factor] of [
    ['T', 2 ** 40],
    ['G', 2 ** 30],
    ['M', 2 ** 20],
    ['K', 2 ** 10],
  ] as const) {
    if (bytes >= factor && bytes % factor === 0) return `${bytes / factor}${suffix}`;
  }
  return String(bytes);
}

// systemd's own "256M" (K, M, G, T as powers of 1024), the configs' "256MiB" or "256Mi" (binary)
// and "1GB" (decimal), or bytes with an optional B.
const MEMORY_RE = /^(\d+(?:\.\d+)?)\s*(?:([KMGT])(?:i|iB)?|([KMGT])B|B)?$/i;

/**
 * A size for MemoryMax= as people write it (see MEMORY_RE), or "none" for no limit (null).
 * undefined: unreadable.
 */
export function parseMemoryMax(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (/^(none|infinity)$/i.test(trimmed)) return null;
  const match = MEMORY_RE.exec(trimmed);
  if (match === null) return undefined;
  const amount = match[1] as string;
  const binary = match[2];
  const unit = binary ?? match[3];
  const power = unit === undefined ? 0 : 'KMGT'.indexOf(unit.toUpperCase()) + 1;
  if (power === 0 && amount.includes('.')) return undefined;
  const bytes = Math.floor(Number(amount) * (binary ? 1024 : 1000) ** power);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** WatchdogSec as given to the CLIs: "60", "60s", "2min" or "2m"; "none" or "0" → null; undefined: unreadable. */
export function parseWatchdogSec(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (/^(none|0)$/i.test(trimmed)) return null;
  const match = /^(\d+)\s*(s|m|min)?$/i.exec(trimmed);
  if (match === null) return undefined;
  const seconds = Number(match[1]) * (match[2] === undefined || match[2].toLowerCase() === 's' ? 1 : 60);
  return seconds > 0 && seconds <= 86_400 ? seconds : undefined;
}

/** "20%" (of one CPU) → 20, "none" → null; undefined: unreadable. */
export function parseCpuQuota(text: string): number | null | undefined {
  const trimmed = text.trim();
  if (/^none$/i.test(trimmed)) return null;
  const match = /^(\d+(?:\.\d+)?)%$/.exec(trimmed);
  const percent = match ? Number(match[1]) : Number.NaN;
  return percent > 0 ? percent : undefined;
}
