import { createReadStream, statSync, type Stats } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * Serves the web app's production build (apps/web/dist) at `/`: hashed files under /assets/ are
 * cached for a year (their names change with their content), everything else is revalidated; a path
 * that names no file gets index.html (the app's router takes it from there). `/api` is never
 * shadowed: those paths are left to the API, so an unknown API path stays a JSON 404.
 */

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json',
};

/** The app needs inline styles (Mantine sets style attributes) and its own WebSocket; nothing else. */
const CSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

export interface StaticFilesOptions {
  /** The build's directory (holds index.html). */
  root: string;
}

export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

export function createStaticFiles(options: StaticFilesOptions): StaticHandler {
  const root = normalize(options.root);
  const index = join(root, 'index.html');

  function fileAt(path: string): { file: string; stat: Stats } | null {
    const file = normalize(join(root, path));
    if (file !== root && !file.startsWith(root + sep)) return null;
    try {
      const stat = statSync(file);
      return stat.isFile() ? { file, stat } : null;
    } catch {
      return null;
    }
  }

  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path: string;
    try {
      path = decodeURIComponent(q === -1 ? url : url.slice(0, q));
    } catch {
      return false;
    }
    if (path === '/api' || path.startsWith('/api/') || path.includes('\0')) return false;
    let found = path === '/' ? null : fileAt(path);
    let immutable = found !== null && path.startsWith('/assets/');
    if (!found) {
      // A missing file with an extension (a stale /assets/x.js) is a 404, not the app's HTML.
      if (extname(path) !== '' && !path.endsWith('.html')) return false;
      found = fileAt('index.html');
      immutable = false;
      if (!found) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
        res.end(`The web app is not built (no ${index}). Run: npm run build:web\n`);
        return true;
      }
    }
    const headers: Record<string, string | number> = {
      'content-type': TYPES[extname(found.file)] ?? 'application/octet-stream',
      'content-length': found.stat.size,
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'last-modified': found.stat.mtime.toUTCString(),
      'x-content-type-options': 'nosniff',
    };
    if (found.file.endsWith('.html')) {
      headers['content-security-policy'] = CSP;
      headers['x-frame-options'] = 'DENY';
      headers['referrer-policy'] = 'no-referrer';
    }
    const since = req.headers['if-modified-since'];
    if (!immutable && since && Date.parse(since) >= Math.floor(found.stat.mtimeMs / 1000) * 1000) {
      res.writeHead(304, { 'cache-control': headers['cache-control'] as string });
      res.end();
      return true;
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return true;
    }
    const stream = createReadStream(found.file);
    stream.on('error', () => res.destroy());
    stream.pipe(res);
    return true;
  };
}
