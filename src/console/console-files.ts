import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { ServerResponse } from 'node:http';

/** Where the service serves the console. */
export const CONSOLE_PATH = '/console';

/**
 * Where the built console is: dist/console, made by `npm run build` (vite). Looked for above this
 * file, so that the compiled service (dist/src/console) and the tests (src/console) find the same.
 */
export function findConsoleDir(from: string = __dirname): string | null {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dist', 'console');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return null;
  }
}

/**
 * The page holds the API token (in sessionStorage): it runs no script but its own, is never framed,
 * and sends no referrer. Recordings play from blob: URLs the page makes from the authenticated fetch.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "media-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export function setConsoleHeaders(res: Pick<ServerResponse, 'setHeader'>, path: string): void {
  res.setHeader('Content-Security-Policy', CONSOLE_CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('Referrer-Policy', 'no-referrer');
  // Vite names the assets by their content hash; the page itself must be fetched fresh after a deploy.
  res.setHeader('Cache-Control', /[\\/]assets[\\/]/.test(path) ? 'public, max-age=31536000, immutable' : 'no-cache');
}
