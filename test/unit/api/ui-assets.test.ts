import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { type Server, createServer } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Caller } from '../../../controller/api/auth.js';
import { uiRoutes } from '../../../controller/api/ui-assets.js';

const ADMIN: Caller = { name: 'local', role: 'admin', quota: {} };

describe('the web UI files', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ui-assets-'));
  let server: Server;
  let base: string;

  beforeAll(async () => {
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>myaas</title>');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(tmpdir(), 'outside-ui.txt'), 'secret');
    const routes = uiRoutes(dir);
    server = createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const p = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname;
      const route = routes.find((r) => r.pattern.test(p));
      if (!route) return void res.writeHead(404).end();
      void route.handler(req, res, route.pattern.exec(p)!.slice(1), url, ADMIN);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.close();
    rmSync(dir, { recursive: true, force: true });
    rmSync(path.join(tmpdir(), 'outside-ui.txt'), { force: true });
  });

  it('serves the page at /ui/ with a strict CSP and no framing; /ui goes to /ui/', async () => {
    const page = await fetch(`${base}/ui/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(page.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-cache');
    expect(await page.text()).toContain('<title>myaas</title>');
    const bare = await fetch(`${base}/ui`, { redirect: 'manual' });
    expect(bare.status).toBe(308);
    expect(bare.headers.get('location')).toBe('/ui/');
  });

  it('serves hashed assets as immutable, with their type', async () => {
    const asset = await fetch(`${base}/ui/assets/index-abc123.js`);
    expect(asset.status).toBe(200);
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect(await asset.text()).toBe('console.log(1)');
  });

  it('answers unknown paths with the page (it routes by hash) and never reads outside its folder', async () => {
    expect(await (await fetch(`${base}/ui/nothing/here`)).text()).toContain('<title>myaas</title>');
    for (const sneaky of [
      '/ui/../outside-ui.txt',
      '/ui/%2e%2e/outside-ui.txt',
      '/ui/assets/..%2f..%2foutside-ui.txt',
    ]) {
      const answer = await fetch(`${base}${sneaky}`);
      expect(await answer.text()).not.toContain('secret');
    }
  });

  it('is absent when the UI was not built (no index.html): the routes are not registered', () => {
    expect(uiRoutes(path.join(dir, 'assets'))).toEqual([]);
  });
});
