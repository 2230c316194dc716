import { constants } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import { hostCallFailed, permissionDenied } from './errors.ts';

export interface FileGrant {
  plugin: string;
  /** Absolute globs from permissions.files. */
  globs: readonly string[];
  maxBytes: number;
}

const fileFailed = (message: string) => hostCallFailed('E_PLUGIN_FILE', message);

/**
 * File reads on behalf of a plugin. Both the path asked for and its real path (symlinks resolved)
 * must match a granted glob, so a symlink cannot lead outside them, and a path outside them is
 * refused before the file system is touched (a plugin cannot probe which files exist).
 */
export class PluginFileReader {
  readonly #grant: FileGrant;
  readonly #matches: (file: string) => boolean;

  constructor(grant: FileGrant) {
    this.#grant = grant;
    this.#matches = grant.globs.length === 0 ? () => false : picomatch([...grant.globs]);
  }

  async read(raw: unknown): Promise<string> {
    if (typeof raw !== 'string' || !path.isAbsolute(raw) || raw.includes('\0')) {
      throw fileFailed(`files.read(): ${JSON.stringify(raw)} is not an absolute path`);
    }
    const requested = path.normalize(raw);
    this.#check(requested, requested);
    let real: string;
    try {
      real = await fs.realpath(requested);
    } catch (err) {
      throw fileFailed(`files.read(): ${requested}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
    this.#check(real, requested);
    // O_NONBLOCK: opening a FIFO must not hang the host; O_NOFOLLOW: the real path has no links left.
    const handle = await fs
      .open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK)
      .catch((err: NodeJS.ErrnoException) => {
        throw fileFailed(`files.read(): ${requested}: ${err.code ?? err.message}`);
      });
    try {
      const stat = await handle.stat();
      if (!stat.isFile()) throw fileFailed(`files.read(): ${requested} is not a regular file`);
      if (stat.size > this.#grant.maxBytes) {
        throw fileFailed(
          `files.read(): ${requested} is ${stat.size} bytes, over ${this.#grant.maxBytes} (limits.maxFileBytes)`,
        );
      }
      const buffer = Buffer.alloc(stat.size);
      const { bytesRead } = await handle.read(buffer, 0, stat.size, 0);
      return buffer.subarray(0, bytesRead).toString('utf8');
    } finally {
      await handle.close();
    }
  }

  #check(file: string, requested: string): void {
    if (this.#matches(file)) return;
    const allowed = this.#grant.globs.length === 0 ? 'none' : this.#grant.globs.join(', ');
    const what =
      file === requested
        ? `reading ${requested} is not allowed (permissions.files: ${allowed})`
        : `reading ${requested} is not allowed: it resolves to ${file}, outside permissions.files (${allowed})`;
    throw permissionDenied(this.#grant.plugin, what, {
      path: requested,
      realPath: file,
      allowed: this.#grant.globs,
    });
  }
}
