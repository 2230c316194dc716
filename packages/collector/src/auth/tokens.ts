import { link, readFile, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { newSecret } from './credentials.ts';
import { tokenFileInvalid, tokenFileUnwritable } from './errors.ts';

export interface CollectorTokens {
  enrollmentToken: string;
  adminToken: string;
  /** The file the token was read from or written to; null when it came from config or env. */
  enrollmentTokenFile: string | null;
  adminTokenFile: string | null;
}

export interface ResolveTokensOptions {
  dataDir: string;
  enrollmentToken?: string | undefined;
  adminToken?: string | undefined;
  logger: Logger;
}

export const ENROLLMENT_TOKEN_FILE = 'enrollment-token';
export const ADMIN_TOKEN_FILE = 'admin-token';

/**
 * Configured tokens win; otherwise each token is read from its file in the data dir, or generated
 * and written there (mode 0600) at first start. Logs file paths, never the tokens.
 */
export async function resolveTokens(options: ResolveTokensOptions): Promise<CollectorTokens> {
  const enrollment = await resolveOne(options, 'enrollment', options.enrollmentToken, ENROLLMENT_TOKEN_FILE);
  const admin = await resolveOne(options, 'admin', options.adminToken, ADMIN_TOKEN_FILE);
  return {
    enrollmentToken: enrollment.token,
    adminToken: admin.token,
    enrollmentTokenFile: enrollment.file,
    adminTokenFile: admin.file,
  };
}

async function resolveOne(
  options: ResolveTokensOptions,
  kind: string,
  configured: string | undefined,
  fileName: string,
): Promise<{ token: string; file: string | null }> {
  if (configured !== undefined) return { token: configured, file: null };
  const file = path.join(options.dataDir, fileName);
  const existing = await readTokenFile(file, options.logger);
  if (existing !== undefined) return { token: existing, file };

  // Written beside the target and hard-linked into place: link fails if the file appeared
  // meanwhile (another collector starting on the same dir), and a crash never leaves it half-written.
  const token = newSecret();
  const temp = `${file}.${process.pid}.tmp`;
  try {
    await writeFile(temp, `${token}\n`, { mode: 0o600 });
    await link(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw tokenFileUnwritable(file, err);
    const raced = await readTokenFile(file, options.logger);
    if (raced === undefined) throw tokenFileUnwritable(file, err);
    return { token: raced, file };
  } finally {
    await unlink(temp).catch(() => {});
  }
  options.logger.info({ file }, `generated ${kind} token`);
  return { token, file };
}

async function readTokenFile(file: string, logger: Logger): Promise<string | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw tokenFileInvalid(file, `cannot be read (${(err as Error).message})`);
  }
  const token = text.trim();
  if (!/^[\x21-\x7e]+$/.test(token)) throw tokenFileInvalid(file, 'is empty or holds more than one token');
  const { mode } = await stat(file);
  if ((mode & 0o077) !== 0) {
    logger.warn(
      { file, mode: `0${(mode & 0o777).toString(8)}` },
      'token file is readable by other users; chmod 600 it',
    );
  }
  return token;
}
