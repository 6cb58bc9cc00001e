import { execFile, spawn } from 'node:child_process';
import { createReadStream, readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVERY_TYPE_TABLES, createEveryTypeTables } from '../support/every-type.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, PROCESS_COPY, type Pair, TestBed } from '../support/testbed.js';

const run = promisify(execFile);

/**
 * The import's fast path (rows over two clients, indexes after the rows) must give
 * the tables a plain `mariadb < dump.sql` gives: a real mariadb-dump of every column type, loaded
 * both ways into servers of the same image, compared table by table (CHECKSUM TABLE, SHOW CREATE
 * TABLE) and row by row for the hardest tables.
 */
function describeImportExact(pair: Pair): void {
  describe(`import of every column type is exact (${pair.runtime}+${pair.storage})`, () => {
    // Every table's rows LOAD DATA can take go that way, however few (the default waits for 1 MiB).
    const bed = new TestBed(`exact-${pair.runtime}`, { pair, config: { importLoadDataAfterBytes: 0 } });

    beforeAll(async () => {
      bed.declareShop('shop.sql', databaseObject('src'), databaseObject('ref'), databaseObject('refhex'));
      await bed.start();
      for (const name of ['src', 'ref', 'refhex']) await bed.waitForDatabase(name, 'Ready');
      const c = await connect(bed, 'src');
      try {
        await createEveryTypeTables(c);
      } finally {
        await c.end();
      }
    });
    afterAll(async () => {
      await bed.destroy();
    });

    // mariadb-dump's default (binary as escaped strings) and --hex-blob with column lists (0x... literals).
    for (const [variant, flags, reference] of [
      ['default', [], 'ref'],
      ['hex', ['--hex-blob', '--complete-insert'], 'refhex'],
    ] as const) {
      it(`a ${variant} mariadb-dump loads to the same tables as mariadb < dump.sql`, async () => {
        const dump = `exact-${variant}.sql`;
        await dumpTables(bed, 'src', [...flags], path.join(bed.dumpsDir, dump));
        const text = readFileSync(path.join(bed.dumpsDir, dump), 'latin1');
        expect(text).toMatch(/^-- MariaDB dump/m);
        if (variant === 'hex') expect(text).toMatch(/,0x[0-9A-F]{64}\)/);
        await plainLoad(bed, reference, path.join(bed.dumpsDir, dump));

        const db = `dst${variant}`;
        bed.writeSpec(
          `${db}.yaml`,
          templateObject(`exact${variant}`, { source: { path: dump } }),
          databaseObject(db, { template: `exact${variant}` }),
        );
        await bed.waitForDatabase(db, 'Ready', 180_000);
        const log = readFileSync(path.join(bed.dir, 'controller.log'), 'utf8');
        // The fast path ran on this dump (rows split over two clients, plain keys built after the rows).
        expect(log).toContain('dump written by mysqldump/mariadb-dump: loading rows in parallel');
        // Rows converted to LOAD DATA for every table whose columns allow it; the others (BIT,
        // geometry, generated and invisible columns) went through the client as they are.
        const loadedFast = log
          .split('\n')
          .filter(
            (l) =>
              l.includes('"rows loaded through LOAD DATA"') && l.includes(`"template":"exact${variant}"`),
          )
          .map((l) => (JSON.parse(l) as { table: string; rows: number }).table)
          .sort();
        expect(loadedFast).toEqual(
          ['bins', 'child', 'choices', 'docs', 'ints', 'many', 'texts', 'times'].map((t) => `\`${t}\``),
        );

        for (const table of EVERY_TYPE_TABLES) {
          const [theirs] = await bed.query<{ Checksum: number | null }>(reference, `CHECKSUM TABLE ${table}`);
          const [ours] = await bed.query<{ Checksum: number | null }>(db, `CHECKSUM TABLE ${table}`);
          expect(theirs?.Checksum, table).not.toBeNull();
          expect(ours?.Checksum, table).toBe(theirs?.Checksum);
          const create = async (name: string) =>
            (await bed.query<{ 'Create Table': string }>(name, `SHOW CREATE TABLE ${table}`))[0]?.[
              'Create Table'
            ];
          expect(await create(db), table).toBe(await create(reference));
        }
        // The source itself: the dump lost nothing on the way (what the reference compares with).
        for (const table of ['bins', 'texts', 'many']) {
          const [src] = await bed.query<{ Checksum: number }>('src', `CHECKSUM TABLE ${table}`);
          const [ours] = await bed.query<{ Checksum: number }>(db, `CHECKSUM TABLE ${table}`);
          expect(ours?.Checksum, table).toBe(src?.Checksum);
        }
        expect(await bed.query(db, 'SELECT COUNT(*) AS n FROM bins')).toEqual([{ n: 260 }]);
        expect(await bed.query(db, 'SELECT COUNT(*) AS n FROM many')).toEqual([{ n: 40000 }]);

        // Row by row, every value as the server gives it (dates as text, big numbers as text, bytes).
        for (const sql of [
          'SELECT * FROM bins ORDER BY id',
          'SELECT * FROM texts ORDER BY id',
          'SELECT * FROM times ORDER BY id',
          'SELECT * FROM nums ORDER BY id',
          'SELECT *, hidden FROM gen ORDER BY id',
          'SELECT id, ST_AsText(g) AS g, ST_AsText(p) AS p FROM shapes ORDER BY id',
          'SELECT * FROM docs ORDER BY id',
        ]) {
          const theirs = await rows(bed, reference, sql);
          expect(theirs.length, sql).toBeGreaterThan(2);
          expect(await rows(bed, db, sql), sql).toEqual(theirs);
        }
      });
    }

    it('a duplicate key in rows loaded through LOAD DATA fails the import, as mariadb < dump.sql would', async () => {
      // LOAD DATA LOCAL skips such a row with a warning: the loader counts the rows the server kept.
      const header = [
        '-- MariaDB dump 10.19  Distrib 10.11.18-MariaDB, for debian-linux-gnu (x86_64)',
        '/*!40101 SET NAMES utf8mb4 */;',
        "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
        'CREATE TABLE `d` (',
        '  `id` int(11) NOT NULL,',
        '  PRIMARY KEY (`id`)',
        ') ENGINE=InnoDB;',
        'INSERT INTO `d` VALUES',
        '(1),',
        '(2),',
        '(1);',
        '',
      ].join('\n');
      bed.writeDump('dup.sql', header);
      bed.writeSpec('dup.yaml', templateObject('dup', { source: { path: 'dup.sql' } }));
      const t = await bed.waitForTemplate('dup', (s) => s.phase === 'Failed', 'failed import', 120_000);
      expect(t.status.message).toMatch(
        /table `d`: the server stored 2 of the dump's 3 rows: Duplicate entry '1'/,
      );
      const log = readFileSync(path.join(bed.dir, 'controller.log'), 'utf8');
      expect(log).not.toMatch(/"template":"dup".*"rows loaded through LOAD DATA"/);
      bed.removeSpec('dup.yaml');
    });

    it("a dump's own LOAD DATA LOCAL INFILE cannot read a file where its client runs", async () => {
      // The client's sandbox does not stop it: before, this read the host's file into the template.
      bed.writeDump(
        'steal.sql',
        "CREATE TABLE loot (line TEXT);\nLOAD DATA LOCAL INFILE '/etc/hostname' INTO TABLE loot;\n",
      );
      bed.writeSpec('steal.yaml', templateObject('steal', { source: { path: 'steal.sql' } }));
      const t = await bed.waitForTemplate('steal', (s) => s.phase === 'Failed', 'refused import', 120_000);
      expect(t.status.message).toMatch(/^a dump may not run commands: line 2 has .*LOAD DATA LOCAL INFILE/);
      bed.removeSpec('steal.yaml');
    });
  });
}

async function connect(bed: TestBed, name: string): Promise<mysql.Connection> {
  const db = bed.database(name)!;
  return mysql.createConnection({
    host: '127.0.0.1',
    port: db.status.connection!.port,
    user: db.status.connection!.user,
    password: db.record.user.password,
    database: db.status.connection!.database,
    charset: 'utf8mb4',
    dateStrings: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    timezone: 'Z',
  });
}

async function rows(bed: TestBed, name: string, sql: string): Promise<unknown[]> {
  const c = await connect(bed, name);
  try {
    await c.query("SET time_zone = '+00:00'");
    const [result] = await c.query(sql);
    return result as unknown[];
  } finally {
    await c.end();
  }
}

function clientArgs(bed: TestBed, name: string): { args: string[]; env: NodeJS.ProcessEnv } {
  const db = bed.database(name)!;
  return {
    args: [
      '--no-defaults',
      '-h',
      '127.0.0.1',
      '-P',
      String(db.status.connection!.port),
      '-u',
      db.status.connection!.user,
    ],
    env: { ...process.env, MYSQL_PWD: db.record.user.password },
  };
}

/** The real mariadb-dump of the every-type tables (no routines or triggers: their definer is another user). */
async function dumpTables(bed: TestBed, name: string, flags: string[], file: string): Promise<void> {
  const { args, env } = clientArgs(bed, name);
  const db = bed.database(name)!;
  await run(
    'sh',
    [
      '-c',
      'mariadb-dump "$@" > "$OUT"',
      'sh',
      ...args,
      ...flags,
      db.status.connection!.database,
      ...EVERY_TYPE_TABLES,
    ],
    { env: { ...env, OUT: file } },
  );
}

/** `mariadb < dump.sql`: the plain client, the dump on its stdin. */
async function plainLoad(bed: TestBed, name: string, file: string): Promise<void> {
  const { args, env } = clientArgs(bed, name);
  const client = spawn('mariadb', [...args, bed.database(name)!.status.connection!.database], {
    env,
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  let stderr = '';
  client.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  createReadStream(file).pipe(client.stdin);
  const code = await new Promise<number | null>((resolve) => client.once('close', resolve));
  if (code !== 0) throw new Error(`mariadb < ${file} failed: ${stderr}`);
}

describeImportExact(DOCKER_BTRFS);
describeImportExact(PROCESS_COPY);
