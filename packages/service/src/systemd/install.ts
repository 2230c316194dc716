import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { binNotFound, unitNotWritable, userAddFailed } from './errors.ts';
import { type NotifySupport, notifySupport } from './notify-support.ts';
import { renderUnit, type UnitOptions } from './unit.ts';

export const DEFAULT_UNIT_DIR = '/etc/systemd/system';

export interface InstallOptions {
  unit: UnitOptions;
  unitDir: string;
  /** Print the unit (and what would be done) instead of doing it. */
  dryRun: boolean;
  /** Where the unit text and the next steps go (stdout for the CLI). */
  print: (text: string) => void;
  /** Whether the user may be created; process.getuid() === 0 unless given. */
  isRoot?: boolean;
  /** Type=notify or Type=exec, and why; asked of this host's systemd (notifySupport()) unless given. */
  notifySupport?: NotifySupport;
}

export interface InstallResult {
  path: string;
  written: boolean;
  /** The unit's Type=. */
  type: 'notify' | 'exec';
  /** The useradd command, when the user did not exist; `userCreated` says whether it ran. */
  userAdd: string[] | null;
  userCreated: boolean;
}

/**
 * Writes <unitDir>/<name>.service and makes sure the service user exists: created with useradd
 * when running as root, otherwise the command is printed for an admin to run. The unit is
 * Type=notify where this host's systemd supports it, else Type=exec; the output says which.
 */
export function installUnit(options: InstallOptions): InstallResult {
  const { print } = options;
  const support = options.notifySupport ?? notifySupport();
  const unit: UnitOptions = { ...options.unit, type: support.type };
  const path = join(options.unitDir, `${unit.name}.service`);
  const text = renderUnit(unit);
  const typeNote = describeType(unit, support);
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const userAdd = userExists(unit.user) ? null : useraddCommand(unit.user, `/var/lib/${unit.stateDirectory}`);

  if (options.dryRun) {
    print(`# ${path}\n# ${typeNote}\n${text}`);
    if (userAdd) print(`# the user ${unit.user} does not exist; create it with:\n#   ${userAdd.join(' ')}\n`);
    return { path, written: false, type: support.type, userAdd, userCreated: false };
  }

  let userCreated = false;
  if (userAdd && isRoot) {
    try {
      execFileSync(userAdd[0] as string, userAdd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      throw userAddFailed(userAdd.join(' '), err);
    }
    userCreated = true;
    print(`created system user ${unit.user}\n`);
  }
  try {
    mkdirSync(options.unitDir, { recursive: false, mode: 0o755 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw unitNotWritable(path, err);
  }
  try {
    writeFileSync(path, text, { mode: 0o644 });
  } catch (err) {
    throw unitNotWritable(path, err);
  }
  print(`wrote ${path}\n${typeNote}\n`);
  if (userAdd && !isRoot) {
    print(`the user ${unit.user} does not exist; as root, create it with:\n  ${userAdd.join(' ')}\n`);
  }
  print(
    [
      'next:',
      `  systemctl daemon-reload && systemctl enable --now ${unit.name}`,
      `  journalctl -u ${unit.name} -f`,
      '',
    ].join('\n'),
  );
  return { path, written: true, type: support.type, userAdd, userCreated };
}

function describeType(unit: UnitOptions, support: NotifySupport): string {
  if (support.type === 'exec') {
    return `Type=exec (${support.reason}): systemd counts the daemon as started once it runs, no watchdog`;
  }
  const watchdog = unit.watchdogSec === null ? 'no watchdog' : `WatchdogSec=${unit.watchdogSec}s`;
  return `Type=notify (${support.reason}): the daemon reports ready, reloading and stopping; ${watchdog}`;
}

export interface UninstallOptions {
  name: string;
  unitDir: string;
  dryRun: boolean;
  print: (text: string) => void;
  isRoot?: boolean;
  /** Whether systemd is the running init (it has /run/systemd/system); checked unless given. */
  systemdRunning?: boolean;
}

/**
 * Stops and disables the service when it can (root on a running systemd), otherwise says how,
 * then removes the unit file. The user and the state directory stay: they hold the queue or the data.
 */
export function uninstallUnit(options: UninstallOptions): { path: string; removed: boolean } {
  const { name, print } = options;
  const path = join(options.unitDir, `${name}.service`);
  if (!existsSync(path)) {
    print(`${path} does not exist: nothing to uninstall\n`);
    return { path, removed: false };
  }
  const isRoot = options.isRoot ?? process.getuid?.() === 0;
  const systemd = options.systemdRunning ?? existsSync('/run/systemd/system');
  const disable = ['systemctl', 'disable', '--now', name];
  if (options.dryRun) {
    print(`would run: ${disable.join(' ')}\nwould remove ${path}\n`);
    return { path, removed: false };
  }
  // Only a unit in systemd's own directory is the one `systemctl` would stop; never touch the
  // host's service for a file elsewhere.
  const manage = isRoot && systemd && options.unitDir === DEFAULT_UNIT_DIR;
  if (manage) {
    // A unit that was never enabled or started makes this fail; removing the file still applies.
    try {
      execFileSync(disable[0] as string, disable.slice(1), { stdio: 'ignore' });
    } catch {
      print(`${disable.join(' ')} failed; removing the unit anyway\n`);
    }
  }
  try {
    rmSync(path);
  } catch (err) {
    throw unitNotWritable(path, err);
  }
  print(`removed ${path}\n`);
  if (manage) {
    try {
      execFileSync('systemctl', ['daemon-reload'], { stdio: 'ignore' });
    } catch {
      print('systemctl daemon-reload failed; run it by hand\n');
    }
  } else {
    print(`if the service ran, stop it and forget it: ${disable.join(' ')}; systemctl daemon-reload\n`);
  }
  print('the service user and its state directory are kept; remove them by hand if wanted\n');
  return { path, removed: true };
}

/** getent consults NSS, so users from LDAP or sssd count as existing too. */
export function userExists(user: string): boolean {
  try {
    execFileSync('getent', ['passwd', user], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function useraddCommand(user: string, home: string): string[] {
  return [
    'useradd',
    '--system',
    '--user-group',
    '--home-dir',
    home,
    '--no-create-home',
    '--shell',
    '/usr/sbin/nologin',
    user,
  ];
}

/**
 * The absolute path of a sibling bin's script, from the running one's: installed packages keep
 * their bins side by side in dist/cli (or src/cli in a checkout). ExecStart names the script and
 * node by absolute path, so systemd's PATH and the shebang's `env node` play no part.
 */
export function siblingBin(running: string, name: string): string {
  const real = realpathSync(running);
  const ext = extname(real) || '.js';
  if (basename(real, ext) === name) return real;
  const candidate = join(dirname(real), `${name}${ext}`);
  if (existsSync(candidate)) return candidate;
  throw binNotFound(name, candidate);
}
