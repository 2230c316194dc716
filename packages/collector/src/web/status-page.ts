import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Api } from '../api/index.ts';

/**
 * Next to this module in the source tree (src/web/static), and copied to dist/static by the build
 * (tsup.config.ts), where the bundled chunk that contains this module lives.
 */
export const STATIC_DIR = fileURLToPath(new URL('./static/', import.meta.url));

const FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/status/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/status/style.css': { file: 'style.css', type: 'text/css; charset=utf-8' },
};

/**
 * The status page: static files with no build step, read once at start. They hold no data; the page
 * reads the admin JSON API with the token the user types in.
 */
export function registerStatusPage(app: Api): void {
  for (const [route, { file, type }] of Object.entries(FILES)) {
    const content = readFileSync(`${STATIC_DIR}${file}`);
    app.get(route, async (_request, reply) =>
      reply
        .type(type)
        .header('cache-control', 'no-cache')
        // The page loads only its own files and talks only to this collector.
        .header(
          'content-security-policy',
          "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        )
        .send(content),
    );
  }
}
