import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../../controller/api/api-server.js';
import { silentLogger } from '../../../controller/log.js';
import type { SchemaDiffView, SchemaSnapshot } from '../../../controller/objects/index.js';
import { TEAM_TOKENS, callApi, startTeamApi } from '../../support/api.js';
import { runCli } from '../../support/cli.js';
import type { Flavor } from '../../support/flavors.js';
import { databaseObject, templateObject } from '../../support/specs.js';
import { type Pair, TestBed } from '../../support/testbed.js';

const TOKENS = TEAM_TOKENS;

/** An index on the shop dump's products, for the clone to drop. */
const INDEX: Record<string, string> = {
  mariadb: 'CREATE INDEX `idx_price` ON `products` (`price`);\n',
  postgres: 'CREATE INDEX idx_price ON public.products USING btree (price);\n',
};

/** An added column, a dropped index and a new table: what the diff must list, and nothing else. */
const CHANGES: Record<string, string> = {
  mariadb: `ALTER TABLE products ADD COLUMN note TEXT NULL;
DROP INDEX idx_price ON products;
CREATE TABLE audit_log (id INT PRIMARY KEY, what VARCHAR(64) NOT NULL);
CREATE INDEX idx_what ON audit_log (what);`,
  postgres: `ALTER TABLE products ADD COLUMN note text;
DROP INDEX idx_price;
CREATE TABLE audit_log (id integer PRIMARY KEY, what varchar(64) NOT NULL);
CREATE INDEX idx_what ON audit_log (what);`,
};

/** Runs the built CLI against `base`; never throws. */
const cli = (base: string, dir: string, args: string[]) => runCli(base, dir, args, 60_000);

/**
 * Schema diff (issue 16) on one runtime and engine: the template version's schema recorded at import
 * (every kind of object in it), a fresh clone that differs in nothing, then exactly the changes made
 * in it, through the API and the CLI; a stopped database cannot be compared and says how to fix it.
 */
export function describeSchemaDiff(pair: Pair, flavor: Flavor): void {
  const engine = flavor.engine;
  describe(`schema diff: ${engine} on ${pair.runtime} + ${pair.storage}`, () => {
    // Made in beforeAll: a run filtered to other cases leaves no folder of this one behind.
    let bed: TestBed;
    let api: ApiServer;
    let teamApi: ApiServer;
    let base: string;
    let teamBase: string;
    const diff = (name: string) => callApi(base, 'GET', `/api/v1/databases/${name}/diff`);

    beforeAll(async () => {
      bed = new TestBed(`diff-${engine}-${pair.runtime}`, { pair });
      bed.writeDump('shop.sql', `${flavor.shopDump(3, 'v1')}${INDEX[engine]}`);
      bed.writeSpec('shop.yaml', templateObject('shop', { engine, source: { path: 'shop.sql' } }));
      bed.writeSpec('mine.yaml', databaseObject('mine'));
      const running = await bed.start();
      api = createApi(running, silentLogger);
      base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
      // The same controller behind a users file: a developer who does not own `mine`, and a viewer.
      ({ api: teamApi, base: teamBase } = await startTeamApi(running, bed.dir));
      await bed.waitForDatabase('mine', 'Ready', 180_000);
    });
    afterAll(async () => {
      await teamApi?.close();
      await api?.close();
      await bed?.destroy();
    });

    it('records the schema at import, every kind of object; a fresh clone differs in nothing', async () => {
      const version = bed.template('shop')!.status.currentVersion!;
      const recorded = JSON.parse(
        readFileSync(path.join(bed.dataDir, 'templates', 'shop', `${version}.schema.json`), 'utf8'),
      ) as SchemaSnapshot;
      expect(recorded.tables.map((t) => t.name)).toEqual(['audit', 'meta', 'products']);
      expect(recorded.indexes.map((i) => `${i.table}.${i.name}`)).toContain('products.idx_price');
      expect(recorded.views.map((v) => v.name)).toEqual(['expensive']);
      expect(recorded.routines.map((r) => r.name)).toContain(
        engine === 'postgres' ? 'count_products()' : 'count_products',
      );
      expect(recorded.triggers.map((t) => `${t.table}.${t.name}`)).toEqual(['products.products_ai']);

      const answer = await diff('mine');
      expect(answer).toEqual({
        status: 200,
        body: { database: 'mine', base: { template: 'shop', version }, changes: [] },
      });
      const printed = await cli(base, bed.dir, ['diff', 'mine']);
      expect(printed).toEqual({ code: 0, stdout: `no schema changes against shop/${version}\n`, stderr: '' });
    });

    it('lists an added column, a dropped index and a new table, exactly (API and CLI)', async () => {
      await bed.query('mine', CHANGES[engine]!);
      const answer = await diff('mine');
      expect(answer.status).toBe(200);
      expect((answer.body as unknown as SchemaDiffView).changes).toEqual([
        { kind: 'table', change: 'added', name: 'audit_log' },
        { kind: 'column', change: 'added', name: 'products.note', details: ['text', 'null'] },
        { kind: 'index', change: 'removed', name: 'products.idx_price', details: ['on price'] },
      ]);
      const printed = await cli(base, bed.dir, ['diff', 'mine']);
      expect(printed).toEqual({
        code: 0,
        stdout:
          '+ table audit_log\n+ column products.note (text, null)\n- index products.idx_price (on price)\n',
        stderr: '',
      });
      const json = await cli(base, bed.dir, ['diff', 'mine', '-o', 'json']);
      expect(JSON.parse(json.stdout)).toEqual(answer.body);
    });

    it('only its owner or an admin may ask, as for its password: another developer sees nothing, a viewer is refused', async () => {
      const as = (token: string) =>
        callApi(teamBase, 'GET', '/api/v1/databases/mine/diff', undefined, {
          authorization: `Bearer ${token}`,
        });
      expect((await as(TOKENS.bob)).status).toBe(404);
      expect(await as(TOKENS.val)).toMatchObject({
        status: 403,
        body: { status: expect.stringContaining('compare the schema of database "mine"') },
      });
    });

    it('a stopped database answers 409 saying to start it; the CLI says the same', async () => {
      bed.writeSpec('mine.yaml', databaseObject('mine', { state: 'Stopped' }));
      await bed.waitForDatabase('mine', 'Stopped');
      const answer = await diff('mine');
      expect(answer.status).toBe(409);
      expect(answer.body.status).toBe(
        'Database "mine" cannot be compared with its base: it is stopped: its schema is read from its server, so start it first (myaas start mine --wait; one declared in a spec file: spec.state: Running there)',
      );
      const printed = await cli(base, bed.dir, ['diff', 'mine']);
      expect(printed.code).toBe(1);
      expect(printed.stderr).toContain('start it first (myaas start mine --wait;');
      expect((await diff('nope')).status).toBe(404);
    });
  });
}
