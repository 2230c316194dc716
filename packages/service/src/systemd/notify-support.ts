import { execFileSync } from 'node:child_process';

export interface NotifySupport {
  type: 'notify' | 'exec';
  /** Why, for the install output. */
  reason: string;
}

/**
 * systemd 246 added sd_notify_barrier, with which systemd-notify waits until the manager has read
 * its message: only then can a message sent by a child process be attributed to the unit. Older
 * systemd, or no systemd-notify at all, gets Type=exec.
 */
export const MIN_NOTIFY_SYSTEMD = 246;

/** Whether this host's systemd can run the daemons as Type=notify (systemctl --version, systemd-notify). */
export function notifySupport(): NotifySupport {
  let versionText: string;
  try {
    versionText = execFileSync('systemctl', ['--version'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    });
  } catch {
    return { type: 'exec', reason: '`systemctl --version` failed (is this a systemd host?)' };
  }
  const version = Number(/^systemd (\d+)/m.exec(versionText)?.[1]);
  if (!Number.isInteger(version)) {
    return { type: 'exec', reason: 'no systemd version in the output of `systemctl --version`' };
  }
  if (version < MIN_NOTIFY_SYSTEMD) {
    return {
      type: 'exec',
      reason: `systemd ${version} is older than ${MIN_NOTIFY_SYSTEMD}: its systemd-notify does not wait for the manager`,
    };
  }
  try {
    execFileSync('systemd-notify', ['--version'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    return { type: 'exec', reason: `systemd ${version}, but systemd-notify is not installed` };
  }
  return { type: 'notify', reason: `systemd ${version} with systemd-notify` };
}
