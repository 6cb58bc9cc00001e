import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { packageRoot } from '../util/package.js';
import type { Route } from './routes.js';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/**
 * The page may load only its own scripts and styles and talk only to this controller; no page may frame
 * it (a framed UI could be clicked into deleting databases).
 */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** Where `npm run build` puts the web UI: `dist/ui` of the package, from source or from dist alike. */
export function defaultUiDir(): string {
  return path.join(packageRoot() ?? '.', 'dist', 'ui');
}

/**
 * The web UI's files, read once at start (a few hundred kB): `/ui/` and its assets, and `/` for a
 * browser (the original API's JSON stays the answer to everything else). None when the UI was not
 * built, so a controller run from a bare checkout says so instead of serving half a page.
 */
export function uiRoutes(dir = defaultUiDir()): Route[] {
  if (!existsSync(path.join(dir, 'index.html'))) return [];
  const files = new Map<string, { body: Buffer; type: string; immutable: boolean }>();
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub))) {
      const rel = path.posix.join(sub, entry);
      if (statSync(path.join(dir, rel)).isDirectory()) walk(rel);
      else
        files.set(rel, {
          body: readFileSync(path.join(dir, rel)),
          type: TYPES[path.extname(entry)] ?? 'application/octet-stream',
          // Vite names built assets by content hash: they never change under the same name.
          immutable: rel.startsWith('assets/'),
        });
    }
  };
  walk('');
  const index = files.get('index.html')!;
  const send = (req: IncomingMessage, res: ServerResponse, file: typeof index) => {
    res.writeHead(200, {
      ...SECURITY_HEADERS,
      'content-type': file.type,
      'content-length': file.body.length,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    });
    res.end(req.method === 'HEAD' ? undefined : file.body);
  };
  return [
    {
      method: 'GET',
      pattern: /^\/ui(?:\/(.*))?$/,
      open: true,
      handler: async (req, res, [rest]) => {
        // Unknown paths under /ui/ are the page's own (it routes by hash): the page, not a 404.
        const file = rest ? files.get(rest) : undefined;
        if (!rest && !req.url?.split('?')[0]?.endsWith('/')) {
          res.writeHead(308, { location: '/ui/' });
          return void res.end();
        }
        send(req, res, file ?? index);
      },
    },
  ];
}

/** Whether a request to `/` comes from a browser navigating there (it asks for HTML first). */
export function wantsPage(req: IncomingMessage): boolean {
  const accept = req.headers.accept ?? '';
  return req.method === 'GET' && /^text\/html\b/.test(accept);
}
