import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { type Browser, type Page, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { hashToken } from '../../controller/api/auth.js';
import { createLogger } from '../../controller/log.js';
import { brokenDump } from '../support/dumps.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { PROCESS_COPY, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const TOKENS = { ada: 'tok-ui-admin-3c1f', alice: 'tok-ui-alice-9a7e' };
/** Where the screenshots go; README's come from a run with MYAAS_SCREENSHOTS=docs/screenshots. */
const SHOTS = path.resolve(
  import.meta.dirname,
  '../..',
  process.env.MYAAS_SCREENSHOTS ?? '.test-results/screenshots',
);

/**
 * A dump that loads over several seconds, in chunks larger than the pipe's buffers: the import's progress
 * (read from the bytes the client has taken) moves while the page watches.
 */
function slowDump(chunks = 8): string {
  const row = (i: number) => `(${i},'${'x'.repeat(200)}')`;
  const parts = ['CREATE TABLE big (id INT PRIMARY KEY, pad VARCHAR(255)) ENGINE=InnoDB;'];
  for (let c = 0; c < chunks; c++) {
    const rows = Array.from({ length: 1500 }, (_, i) => row(c * 1500 + i + 1)).join(',');
    parts.push(`INSERT INTO big VALUES ${rows};`, 'SELECT SLEEP(0.8);');
  }
  return `${parts.join('\n')}\n`;
}

/** Issue 15's web UI in Debian's Chromium (playwright-core, no browser download) against a real controller. */
describe('the web UI in a real browser (process + copy)', () => {
  const bed = new TestBed('webui', {
    pair: PROCESS_COPY, // A guard that holds any two removals at once: the Problems page shows a held mass removal.
    config: { deletionGuardMax: 1, deletionGuardFraction: 0.1 },
  });
  let api: ApiServer;
  let base: string;
  let browser: Browser;
  /** Console errors and uncaught exceptions of every page, checked at the end. */
  const consoleErrors: string[] = [];

  const open = async (viewport = { width: 1280, height: 860 }): Promise<Page> => {
    const context = await browser.newContext({ viewport });
    const page = await context.newPage();
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${page.url()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
    return page;
  };
  const logIn = async (page: Page, token: string) => {
    await page.goto(`${base}/`);
    await page.getByLabel('Token').fill(token);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('navigation', { name: 'Pages' }).waitFor();
  };
  const card = (page: Page, kind: 'database' | 'template' | 'trash', name: string) =>
    page.locator(`[data-${kind}="${name}"]`);
  const phaseOf = (page: Page, kind: 'database' | 'template', name: string) =>
    card(page, kind, name)
      .locator('.phase')
      .textContent({ timeout: 1000 })
      .catch(() => undefined);
  const waitPhase = (page: Page, kind: 'database' | 'template', name: string, phase: string, ms = 90_000) =>
    waitFor(
      `${kind} ${name} ${phase} in the page`,
      async () => (await phaseOf(page, kind, name)) === phase,
      ms,
      100,
    );

  beforeAll(async () => {
    const users = path.join(bed.dir, 'users.yaml');
    writeFileSync(
      users,
      `users:
  - { name: ada, role: admin, tokenSha256: ${hashToken(TOKENS.ada)} }
  - { name: alice, role: developer, tokenSha256: ${hashToken(TOKENS.alice)} }
`,
    );
    bed.declareShop();
    const running = await bed.start();
    api = createApi(running, createLogger({ level: 'silent' }), undefined, users);
    base = `http://localhost:${await api.listen('127.0.0.1:0')}`;
    browser = await chromium.launch({
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--no-first-run',
        '--disable-background-networking',
      ],
    });
    mkdirSync(SHOTS, { recursive: true });
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready');
  });
  afterAll(async () => {
    await browser?.close();
    await api?.close();
    await bed.destroy();
  });

  it('a wrong token is refused with a message; the page is served at / for a browser, JSON for clients', async () => {
    const page = await open();
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/ui/');
    await page.getByLabel('Token').fill('not-a-token');
    await page.getByRole('button', { name: 'Log in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toContain('That token is not accepted here');
    await page.context().close();
    // The only console error is the browser's own line for that 401 response.
    expect(consoleErrors.splice(0).filter((e) => !/status of 401/.test(e))).toEqual([]);
    const json = await fetch(`${base}/`, { headers: { authorization: `Bearer ${TOKENS.ada}` } });
    expect(json.headers.get('content-type')).toBe('application/json');
  });

  it('shows a template importing as a progress bar with percent and ETA, then Ready', async () => {
    const page = await open();
    await logIn(page, TOKENS.alice);
    await page.getByRole('link', { name: 'Templates' }).click();
    bed.writeDump('big.sql', slowDump());
    bed.writeSpec('big.yaml', templateObject('big', { source: { path: 'big.sql' } }));
    const bar = card(page, 'template', 'big').getByRole('progressbar');
    const seen = new Set<number>();
    await waitFor(
      'two different progress values in the bar',
      async () => {
        const now = Number(await bar.getAttribute('value', { timeout: 500 }).catch(() => Number.NaN));
        if (now > 0 && now < 100) seen.add(now);
        return seen.size >= 2;
      },
      60_000,
      100,
    );
    const text = await card(page, 'template', 'big').locator('.progress-text').textContent();
    expect(text).toMatch(/\d+% · [\d.]+ (KiB|MiB) of [\d.]+ MiB/);
    expect(text).toMatch(/left/);
    await page.screenshot({ path: path.join(SHOTS, 'template-importing.png') });
    await waitPhase(page, 'template', 'big', 'Ready');
    expect(await card(page, 'template', 'big').textContent()).toMatch(/made .* ago from a [\d.]+ MiB dump/);
    // A developer has no reimport button; an admin has.
    expect(await card(page, 'template', 'big').getByRole('button', { name: 'Reimport' }).count()).toBe(0);
    await page.context().close();
  });

  it('creates a database, shows credentials that connect, counts down, stops, starts, deletes into the trash and restores', async () => {
    const page = await open();
    await logIn(page, TOKENS.alice);
    const form = page.getByRole('form', { name: 'Create a database' });
    await form.getByLabel('Name').fill('web1');
    await form.getByLabel('Template').selectOption('shop');
    await form.getByLabel('TTL').fill('1h');
    await form.getByRole('button', { name: 'Create' }).click();
    await waitPhase(page, 'database', 'web1', 'Ready');
    const db = card(page, 'database', 'web1');

    // The countdown runs in the page.
    const seconds = async () => {
      const text = (await db.locator('.countdown').textContent()) ?? '';
      const [, h, m, s] = /^(?:(\d+)h )?(\d+)m (\d+)s/.exec(text) ?? [];
      return Number(h ?? 0) * 3600 + Number(m) * 60 + Number(s);
    };
    const first = await seconds();
    expect(first).toBeGreaterThan(3500);
    await waitFor('the countdown to go down', async () => (await seconds()) < first, 5000, 200);

    await db.getByRole('button', { name: 'Credentials' }).click();
    const secrets = page.getByLabel('Connection to web1');
    const password = (await secrets.locator('.password').textContent())!;
    const [host, port] = (await db.locator('.endpoint').textContent())!.split(':');
    expect(await secrets.locator('.dsn').textContent()).toContain(`:${port}/`);
    expect(await secrets.locator('.command').textContent()).toMatch(/^MYSQL_PWD=\S+ mariadb /);
    await page.screenshot({ path: path.join(SHOTS, 'databases.png') });
    const connection = await mysql.createConnection({
      host: host === 'localhost' ? '127.0.0.1' : host,
      port: Number(port),
      user: 'myaas',
      password,
      database: 'default',
    });
    const [rows] = await connection.query('SELECT COUNT(*) AS n FROM products');
    expect(rows).toEqual([{ n: 3 }]);
    await connection.query('INSERT INTO products VALUES (99, "from-the-browser-test", 1)');
    await connection.end();

    await db.getByRole('button', { name: 'Stop' }).click();
    await waitPhase(page, 'database', 'web1', 'Stopped');
    await db.getByRole('button', { name: 'Start' }).click();
    await waitPhase(page, 'database', 'web1', 'Ready');
    expect(await bed.query('web1', 'SELECT name FROM products WHERE id = 99')).toEqual([
      { name: 'from-the-browser-test' },
    ]);

    await db.getByRole('button', { name: 'Delete' }).click();
    const dialog = page.getByRole('dialog');
    expect(await dialog.textContent()).toMatch(/goes to the trash: restorable for 1 days/);
    await dialog.getByRole('button', { name: 'Delete' }).click();
    await waitFor('web1 gone from the page', async () => (await db.count()) === 0, 60_000, 100);
    await page.getByRole('link', { name: 'Trash' }).click();
    await card(page, 'trash', 'web1').getByRole('button', { name: 'Restore' }).click();
    await page.getByRole('link', { name: 'Databases' }).click();
    await waitPhase(page, 'database', 'web1', 'Ready');
    expect(await bed.query('web1', 'SELECT name FROM products WHERE id = 99')).toEqual([
      { name: 'from-the-browser-test' },
    ]);
    await page.context().close();
  });

  it('resets after a confirmation; an admin sees everyone’s databases with owners and reimports', async () => {
    const page = await open();
    await logIn(page, TOKENS.ada);
    expect(await card(page, 'database', 'web1').count()).toBe(0);
    await page.getByLabel("Show everyone's databases").check();
    const db = card(page, 'database', 'web1');
    expect(await db.textContent()).toContain('Owneralice');
    await db.getByRole('button', { name: 'Reset' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Reset' }).click();
    await waitFor(
      'the reset to take the row away',
      async () =>
        (
          await bed
            .query<{ n: number }>('web1', 'SELECT COUNT(*) AS n FROM products WHERE id = 99')
            .catch(() => [])
        )[0]?.n === 0,
      90_000,
      250,
    );
    await page.getByRole('link', { name: 'Templates' }).click();
    await card(page, 'template', 'shop').getByRole('button', { name: 'Reimport' }).click();
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Reimport of shop requested');
    await page.context().close();
  });

  it('lists spec problems with file and line, and held removals with a confirm button', async () => {
    const page = await open();
    await logIn(page, TOKENS.ada);
    bed.writeSpec(
      'held.yaml',
      databaseObject('keep1', { state: 'Stopped' }),
      databaseObject('keep2', { state: 'Stopped' }),
    );
    // Spec-file databases have no owner: an admin sees them among everyone's.
    await page.getByLabel("Show everyone's databases").check();
    await waitPhase(page, 'database', 'keep1', 'Stopped');
    await waitPhase(page, 'database', 'keep2', 'Stopped');
    bed.removeSpec('held.yaml');
    writeFileSync(path.join(bed.specsDir, 'broken.yaml'), 'kind: Database\nmetadata:\n  name: Bad_Name\n');
    await page.getByRole('link', { name: /Problems/ }).click();
    await waitFor(
      'the broken file in the problems',
      async () => (await page.locator('.problems').textContent())?.includes('broken.yaml:'),
      30_000,
      100,
    );
    const confirm = page.getByRole('button', { name: 'Confirm 2 removals' });
    await confirm.waitFor({ timeout: 30_000 });
    // A template whose dump fails: its card says so, with the dump line.
    bed.writeDump('bad.sql', brokenDump);
    bed.writeSpec('bad.yaml', templateObject('bad', { source: { path: 'bad.sql' } }));
    await page.getByRole('link', { name: 'Templates' }).click();
    const failure = card(page, 'template', 'bad').locator('.failure');
    await failure.waitFor({ timeout: 60_000 });
    expect(await failure.textContent()).toMatch(/Last import failed at dump line 3:.*missing_table/s);
    await page.getByRole('link', { name: /Problems/ }).click();
    await confirm.waitFor({ timeout: 30_000 });
    await confirm.click();
    await waitFor(
      'the held list to empty',
      async () => (await page.textContent('main'))?.includes('no mass removal is waiting'),
      60_000,
      100,
    );
    await page.context().close();
  });

  it('fits a phone width, is reachable by keyboard, and logged no console error', async () => {
    const page = await open({ width: 390, height: 844 });
    await logIn(page, TOKENS.alice);
    await card(page, 'database', 'web1').waitFor();
    expect(await page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).toBe(true);
    // Tab from the top reaches the create form's fields and a database's buttons.
    const reached = new Set<string>();
    for (let i = 0; i < 40; i++) {
      await page.keyboard.press('Tab');
      reached.add(
        await page.evaluate<string>(
          "document.activeElement?.getAttribute('name') ?? document.activeElement?.textContent ?? ''",
        ),
      );
    }
    expect([...reached]).toEqual(
      expect.arrayContaining(['name', 'template', 'ttl', 'Credentials', 'Stop', 'Delete']),
    );
    await page.screenshot({ path: path.join(SHOTS, 'databases-phone.png') });
    await page.context().close();
    expect(consoleErrors).toEqual([]);
  });
});
