import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_DUMP_PREAMBLE } from '../../support/dumps.js';
import { dumpArchive } from '../../support/pg-dump.js';
import { databaseObject, templateObject } from '../../support/specs.js';
import { type Pair, TestBed } from '../../support/testbed.js';

/** The engines these cases speak (mysql shares mariadb's SQL here and is not run). */
type EngineName = 'mariadb' | 'postgres';

const today = new Date().toISOString().slice(0, 10);

/** Customers with real-looking e-mails, orders old and recent, a view: what masking and subsetting work on. */
function customersDump(engine: EngineName): string {
  const rows = `INSERT INTO customers VALUES (1,'ann@realmail.test','ann@realmail.test asked twice','2025-03-01'),(2,'bob@realmail.test',NULL,'${today}');
INSERT INTO orders VALUES (1,1,'2020-01-01','ann@realmail.test'),(2,2,'${today}','bob@realmail.test'),(3,1,'${today}','ann@realmail.test');`;
  if (engine === 'postgres')
    return `${PG_DUMP_PREAMBLE}
CREATE TABLE public.customers (id integer PRIMARY KEY, email character varying(255) NOT NULL, note text, created date NOT NULL);
CREATE TABLE public.orders (id integer PRIMARY KEY, customer_id integer, created date, contact text);
COPY public.customers (id, email, note, created) FROM stdin;
9	carol@realmail.test	carol@realmail.test	2025-01-01
\\.
${rows.replaceAll('INSERT INTO ', 'INSERT INTO public.')}
CREATE VIEW public.recent AS SELECT id FROM public.orders;
`;
  return `CREATE TABLE customers (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL, note TEXT, created DATE NOT NULL);
CREATE TABLE orders (id INT PRIMARY KEY, customer_id INT, created DATE, contact VARCHAR(255));
INSERT INTO customers VALUES (9,'carol@realmail.test','carol@realmail.test','2025-01-01');
${rows}
CREATE VIEW recent AS SELECT id FROM orders;
`;
}

const MASK: Record<EngineName, string> = {
  mariadb: `-- README's e-mail masking example
UPDATE customers SET email = CONCAT('customer', id, '@example.invalid'), note = NULL;
UPDATE orders SET contact = CONCAT('customer', customer_id, '@example.invalid');
`,
  postgres: `-- README's e-mail masking example
UPDATE customers SET email = 'customer' || id || '@example.invalid', note = NULL;
UPDATE orders SET contact = 'customer' || customer_id || '@example.invalid';
`,
};
const LAST_90_DAYS: Record<EngineName, string> = {
  mariadb: 'DELETE FROM orders WHERE created < CURRENT_DATE - INTERVAL 90 DAY',
  postgres: "DELETE FROM orders WHERE created < CURRENT_DATE - INTERVAL '90 days'",
};
const TEXT_COLUMNS: Record<EngineName, string> = {
  mariadb: `SELECT table_name AS t, column_name AS c FROM information_schema.columns
    WHERE table_schema = DATABASE() AND data_type IN ('char','varchar','text','tinytext','mediumtext','longtext')
    AND table_name IN (SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_type = 'BASE TABLE')`,
  postgres: `SELECT c.table_name AS t, c.column_name AS c FROM information_schema.columns c
    JOIN information_schema.tables t ON t.table_name = c.table_name AND t.table_schema = c.table_schema
    WHERE c.table_schema = 'public' AND t.table_type = 'BASE TABLE' AND c.data_type IN ('text','character varying','character')`,
};
/** A step that would run a program where the client runs: the sandbox refuses it. */
const COMMAND: Record<EngineName, (file: string) => string> = {
  mariadb: (file) => `SELECT 1;\nsystem touch ${file}\n`,
  postgres: (file) => `SELECT 1;\n\\! touch ${file}\n`,
};

/**
 * Post-import steps (masking, subsetting) and schema-only templates on one runtime and engine
 * (issue 16): what the steps leave in the clones, a failing step keeping the last good version, a
 * step that would run a command refused, and a template of the schema without its rows.
 */
export function describeImportSteps(pair: Pair, engine: EngineName): void {
  describe(`post-import steps and schema-only templates: ${engine} on ${pair.runtime} + ${pair.storage}`, () => {
    const bed = new TestBed(`steps-${engine}-${pair.runtime}`, { pair });
    const template = (name: string, spec: Record<string, unknown>) =>
      bed.writeSpec(
        `${name}.yaml`,
        templateObject(name, { engine, source: { path: 'customers.sql' }, ...spec }),
      );
    const rows = <T>(db: string, sql: string) => bed.query<T>(db, sql);

    beforeAll(async () => {
      bed.writeDump('customers.sql', customersDump(engine));
      bed.writeDump('mask-emails.sql', MASK[engine]);
      await bed.start();
    });
    afterAll(async () => {
      await bed.destroy();
    });

    it('masks e-mails and keeps the last 90 days of orders: no original e-mail in any text column of a clone', async () => {
      template('masked', {
        import: { steps: [{ path: 'mask-emails.sql' }, { sql: LAST_90_DAYS[engine] }] },
      });
      await bed.waitForTemplate('masked', (s) => s.phase === 'Ready', 'Ready');
      bed.writeSpec('masked-db.yaml', databaseObject('masked-db', { template: 'masked' }));
      await bed.waitForDatabase('masked-db', 'Ready');
      const columns = await rows<{ t: string; c: string }>('masked-db', TEXT_COLUMNS[engine]);
      expect(columns.map((c) => `${c.t}.${c.c}`).sort()).toEqual([
        'customers.email',
        'customers.note',
        'orders.contact',
      ]);
      for (const { t, c } of columns) {
        const [found] = await rows<{ n: number }>(
          'masked-db',
          `SELECT COUNT(*) AS n FROM ${t} WHERE ${c} LIKE '%realmail%'`,
        );
        expect(Number(found?.n), `${t}.${c}`).toBe(0);
      }
      expect(await rows('masked-db', 'SELECT email FROM customers ORDER BY id')).toEqual([
        { email: 'customer1@example.invalid' },
        { email: 'customer2@example.invalid' },
        { email: 'customer9@example.invalid' },
      ]);
      expect(
        (await rows<{ id: number }>('masked-db', 'SELECT id FROM orders ORDER BY id')).map((r) => r.id),
      ).toEqual([2, 3]);
    });

    it('a failing step fails the import with its script and line; the last good version stays current', async () => {
      const good = bed.template('masked')!.status.currentVersion;
      bed.writeDump('fail.sql', 'UPDATE customers SET note = NULL;\nUPDATE no_such_table SET x = 1;\n');
      template('masked', {
        import: { steps: [{ path: 'mask-emails.sql' }, { path: 'fail.sql' }] },
      });
      const failed = await bed.waitForTemplate('masked', (s) => s.lastImport?.result === 'Failed', 'failed');
      expect(failed.status.lastImport).toMatchObject({ errorFile: 'fail.sql', errorLine: 2 });
      expect(failed.status.lastImport?.error).toMatch(/^post-import step fail\.sql failed: .*no_such_table/s);
      expect(failed.status.currentVersion).toBe(good);
      expect(failed.status.phase).toBe('Ready');
      // New clones still come from the good version, masked.
      bed.writeSpec('after-fail.yaml', databaseObject('after-fail', { template: 'masked' }));
      await bed.waitForDatabase('after-fail', 'Ready');
      expect(await rows('after-fail', 'SELECT email FROM customers WHERE id = 1')).toEqual([
        { email: 'customer1@example.invalid' },
      ]);
    });

    it('a step that would run a program is refused, and the program never runs', async () => {
      const marker = path.join(bed.dir, 'step-ran-a-command');
      bed.writeDump('command.sql', COMMAND[engine](marker));
      template('command', { import: { steps: [{ path: 'command.sql' }] } });
      const failed = await bed.waitForTemplate('command', (s) => s.lastImport?.result === 'Failed', 'failed');
      expect(failed.status.lastImport?.error).toMatch(/^post-import step command\.sql/);
      expect(failed.status.versions).toEqual([]);
      expect(existsSync(marker)).toBe(false);
    });

    it('a schema-only template has the tables and the view, and no rows', async () => {
      template('schema', { import: { schemaOnly: true } });
      await bed.waitForTemplate('schema', (s) => s.phase === 'Ready', 'Ready');
      bed.writeSpec('schema-db.yaml', databaseObject('schema-db', { template: 'schema' }));
      await bed.waitForDatabase('schema-db', 'Ready');
      for (const table of ['customers', 'orders', 'recent']) {
        const [count] = await rows<{ n: number }>('schema-db', `SELECT COUNT(*) AS n FROM ${table}`);
        expect(Number(count?.n), table).toBe(0);
      }
      // The masked template of the same dump has its rows: the filter, not the dump, made the difference.
      const [full] = await rows<{ n: number }>('masked-db', 'SELECT COUNT(*) AS n FROM customers');
      expect(Number(full?.n)).toBe(3);
    });

    if (engine === 'postgres')
      it('a schema-only template of a custom-format archive restores the schema only (pg_restore --schema-only)', async () => {
        dumpArchive(bed, 'masked-db', path.join(bed.dumpsDir, 'masked.dump'));
        bed.writeSpec(
          'schema-archive.yaml',
          templateObject('schema-archive', {
            engine,
            source: { path: 'masked.dump' },
            import: { schemaOnly: true },
          }),
        );
        await bed.waitForTemplate('schema-archive', (s) => s.phase === 'Ready', 'Ready');
        bed.writeSpec(
          'schema-archive-db.yaml',
          databaseObject('schema-archive-db', { template: 'schema-archive' }),
        );
        await bed.waitForDatabase('schema-archive-db', 'Ready');
        const [count] = await rows<{ n: number }>('schema-archive-db', 'SELECT COUNT(*) AS n FROM orders');
        expect(Number(count?.n)).toBe(0);
      });
  });
}
