import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { DumpFormat } from '../../../controller/engine/engine.js';
import { engineFor } from '../../../controller/engine/engines.js';
import { PostgresEngine } from '../../../controller/engine/postgres/index.js';
import { UnsafeDumpError } from '../../../controller/engine/unsafe-dump.js';
import { silentLogger } from '../../../controller/log.js';
import { FakeSession } from '../../support/fakes.js';

const engine = new PostgresEngine();
const endpoint = { host: '127.0.0.1', port: 5432 };
const admin = { user: 'postgres', password: 's3cret' };

describe('PostgresEngine', () => {
  it('is the engine the registry gives for postgres, and MariaDB stays MariaDB', () => {
    expect(engineFor('postgres')).toBeInstanceOf(PostgresEngine);
    expect(engineFor('mariadb').name).toBe('mariadb');
    expect(engineFor('mariadb').image.port).toBe(3306);
  });

  it("speaks the official image's contract", () => {
    expect(engine.image.dataDir).toBe('/var/lib/postgresql/data');
    expect(engine.image.port).toBe(5432);
    expect(engine.image.initEnv('pw', 'shop')).toEqual({ POSTGRES_PASSWORD: 'pw', POSTGRES_DB: 'shop' });
    expect(engine.image.stopSignal).toBe('SIGINT');
  });

  it('loads plain dumps with psql stopping at the first error, archives with pg_restore; the password only in env', () => {
    const sql = engine.loader.client(endpoint, admin, 'default', 'sql', 'host');
    expect(sql.argv).toEqual(expect.arrayContaining(['psql', '-v', 'ON_ERROR_STOP=1', '-d', 'default']));
    // pg_dump's own output loads in one transaction (with wal_level=minimal its COPYs skip the WAL);
    // other SQL as `psql -f` runs it.
    expect(sql.argv).not.toContain('--single-transaction');
    expect(engine.loader.client(endpoint, admin, 'default', 'tool-sql', 'host').argv).toContain(
      '--single-transaction',
    );
    const archive = engine.loader.client(endpoint, admin, 'default', 'archive', 'host');
    expect(archive.argv).toContain('--single-transaction');
    expect(archive.argv).toEqual(expect.arrayContaining(['pg_restore', '--exit-on-error', '-d', 'default']));
    for (const c of [sql, archive]) {
      expect(c.env).toEqual({ PGPASSWORD: 's3cret' });
      expect(c.argv.join(' ')).not.toContain('s3cret');
    }
  });

  it('import settings are unsafe-but-fast and bounded by the memory given', () => {
    const args = engine.loader.serverArgs(2048).join(' ');
    for (const setting of ['fsync=off', 'full_page_writes=off', 'wal_level=minimal', 'max_wal_senders=0'])
      expect(args).toContain(setting);
    expect(args).toContain('shared_buffers=1024MB');
    expect(args).toContain('maintenance_work_mem=1024MB');
  });

  it('parallel jobs share the maintenance memory: index builds at once stay within the bound', () => {
    const args = engine.loader.serverArgs(2048, 4).join(' ');
    expect(args).toContain('shared_buffers=1024MB');
    expect(args).toContain('maintenance_work_mem=256MB');
  });

  it('loads archives from their file with pg_restore --jobs; plain dumps and a single job stream', () => {
    expect(engine.loader.parallel('sql', 4)).toBeUndefined();
    expect(engine.loader.parallel('tool-sql', 4)).toBeUndefined();
    expect(engine.loader.parallel('archive', 1)).toBeUndefined();
    const load = engine.loader.parallel('archive', 3)!;
    expect(load.list('/myaas-input/dump').argv).toEqual(['pg_restore', '--list', '/myaas-input/dump']);
    const client = load.load('/myaas-input/dump', endpoint, admin, 'default');
    expect(client.argv).toEqual(
      expect.arrayContaining(['pg_restore', '--jobs=3', '--exit-on-error', '-d', 'default', '--verbose']),
    );
    expect(client.argv.at(-1)).toBe('/myaas-input/dump');
    // --single-transaction excludes --jobs; the password stays out of argv.
    expect(client.argv).not.toContain('--single-transaction');
    expect(client.env).toEqual({ PGPASSWORD: 's3cret' });
    expect(client.argv.join(' ')).not.toContain('s3cret');
  });

  it('counts archive items from the listing and from what pg_restore --verbose says is done', () => {
    const load = engine.loader.parallel('archive', 2)!;
    const listing = [
      ';',
      '; Archive created at 2026-11-22 15:38:01 UTC',
      ';     dbname: postgres',
      '215; 1259 16390 TABLE public orders postgres',
      '3382; 0 16390 TABLE DATA public orders postgres',
      '3221; 1259 16401 INDEX public orders_customer_id postgres',
      '',
    ];
    // Progress counts what takes the time (data, indexes), not the table definitions before them.
    expect(listing.map((l) => load.listedItem(l)).filter(Boolean)).toEqual(['3382', '3221']);
    const verbose = [
      'pg_restore: connecting to database for restore',
      'pg_restore: processing item 3388 ENCODING ENCODING',
      'pg_restore: processing item 215 TABLE orders',
      'pg_restore: creating TABLE "public.orders"',
      'pg_restore: entering main parallel loop',
      'pg_restore: launching item 3382 TABLE DATA orders',
      'pg_restore: processing data for table "public.orders"',
      'pg_restore: finished item 3382 TABLE DATA orders',
      // Two processes' prefixes on one line (they write the prefix apart from the message).
      'pg_restore: pg_restore: launching item 3221 INDEX orders_customer_id',
      'creating INDEX "public.orders_customer_id"',
      'pg_restore: pg_restore: finished item 3221 INDEX orders_customer_id',
      'pg_restore: finished main parallel loop',
    ];
    // Each item once: "processing item" for the serial ones, "finished item" for the parallel ones;
    // the header item (ENCODING) is not in the listing, and the importer leaves it out of progress.
    expect(verbose.map((l) => load.doneItem(l)).filter(Boolean)).toEqual(['3388', '215', '3382', '3221']);
    // A failure is told without the progress chatter around it.
    const failed = [
      ...verbose.slice(0, 7),
      'pg_restore: pg_restore: error: could not execute query: ERROR:  relation "missing" does not exist',
      'Command was: ALTER TABLE ONLY public.x ADD CONSTRAINT x_fk FOREIGN KEY (id) REFERENCES public.missing(id);',
      'pg_restore: warning: errors ignored on restore: 1',
    ].join('\n');
    expect(load.problems(failed).split('\n')).toEqual([
      'pg_restore: error: could not execute query: ERROR:  relation "missing" does not exist',
      'Command was: ALTER TABLE ONLY public.x ADD CONSTRAINT x_fk FOREIGN KEY (id) REFERENCES public.missing(id);',
      'pg_restore: warning: errors ignored on restore: 1',
    ]);
  });

  it.each([
    ['psql:<stdin>:3: ERROR:  relation "missing" does not exist', 3],
    ['psql:<stdin>:120: FATAL:  terminating connection', 120],
    ['pg_restore: error: could not read input file', undefined],
  ])('finds the dump line in %j', (output, line) => {
    expect(engine.loader.errorLine(output)).toBe(line);
  });

  it.each<[string, Buffer, DumpFormat]>([
    ['plain SQL', Buffer.from('SET client_encoding = 1;\nCREATE TABLE t (id int);\n'), 'sql'],
    ['a custom-format archive', Buffer.concat([Buffer.from('PGDMP'), Buffer.alloc(64, 1)]), 'archive'],
    [
      "pg_dump's plain output",
      Buffer.from(
        `--\n-- PostgreSQL database dump\n--\nSET client_encoding = 'UTF8';\n${'-- pad\n'.repeat(2000)}`,
      ),
      'tool-sql',
    ],
  ])('streams %s to the right client, whole', async (_what, dump, expected) => {
    const opened: (DumpFormat | undefined)[] = [];
    const session = new FakeSession();
    const chunks: Buffer[] = [];
    session.stdin.on('data', (c: Buffer) => chunks.push(c));
    const { result, linesValid } = await engine.loader.load(
      Readable.from([dump.subarray(0, 3), dump.subarray(3)]),
      async (format) => {
        opened.push(format);
        return session;
      },
      silentLogger,
      'container',
    );
    expect(result.exitCode).toBe(0);
    // The format is decided on the first bytes, even when they arrive in small pieces.
    expect(opened).toEqual([expected]);
    expect(Buffer.concat(chunks).equals(dump)).toBe(true);
    expect(linesValid).toBe(expected !== 'archive');
  });

  /** Loads a plain dump into one fake psql: what psql read, and the refusal if any. */
  async function loadPlain(dump: string, place: 'host' | 'container', session = new FakeSession()) {
    const chunks: Buffer[] = [];
    session.stdin.on('data', (c: Buffer) => chunks.push(c));
    const loaded = engine.loader
      .load(Readable.from([Buffer.from(dump)]), async () => session, silentLogger, place)
      .then(
        (r) => ({ result: r.result, error: undefined }),
        (error: unknown) => ({ result: undefined, error: error as UnsafeDumpError }),
      );
    const outcome = await loaded;
    return { ...outcome, read: Buffer.concat(chunks).toString() };
  }

  it('on the host, psql runs restricted: a random key before the first line, line numbers unchanged', async () => {
    const dump = 'CREATE TABLE t (id int);\nSELECT 1;\n';
    const first = await loadPlain(dump, 'host');
    const second = await loadPlain(dump, 'host');
    expect(first.read).toMatch(/^\\restrict [0-9a-f]{48} \\\\ CREATE TABLE t \(id int\);\nSELECT 1;\n$/);
    expect(first.read.slice(0, 60)).not.toBe(second.read.slice(0, 60));
    // In a container the dump goes as it is (through the same check).
    expect((await loadPlain(dump, 'container')).read).toBe(dump);
  });

  it('a meta-command fails the load before psql reads its line, naming the line', async () => {
    const session = new FakeSession();
    let aborted = false;
    session.abort = () => {
      aborted = true;
    };
    const { error, read } = await loadPlain('SELECT 1;\n\\! touch /tmp/x\n', 'container', session);
    expect(error).toBeInstanceOf(UnsafeDumpError);
    expect(error).toMatchObject({ line: 2 });
    expect(error?.message).toMatch(/^a dump may not run commands: line 2 has the psql meta-command \\!/);
    expect(read).not.toContain('touch');
    expect(aborted).toBe(true);
  });

  it("psql's own refusal (restricted mode) is told the same way", async () => {
    const session = new FakeSession(
      /./,
      (line) =>
        `psql:<stdin>:${line}: error: backslash commands are restricted; only \\unrestrict is allowed`,
    );
    const { error } = await loadPlain('SELECT 1;\n', 'host', session);
    expect(error).toBeInstanceOf(UnsafeDumpError);
    expect(error).toMatchObject({ line: 1 });
    expect(error?.message).toMatch(
      /^a dump may not run commands: psql refused a meta-command of the dump at line 1/,
    );
  });

  it('knows an initialised datadir by PG_VERSION', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'pgdata-'));
    expect(await engine.host.isInitialized(dir)).toBe(false);
    writeFileSync(path.join(dir, 'PG_VERSION'), '15\n');
    expect(await engine.host.isInitialized(dir)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives psql and a postgresql:// DSN to connect with', () => {
    const c = { host: 'db.example.com', port: 32768, user: 'myaas', password: 'p/w', database: 'default' };
    expect(engine.client.command(c)).toEqual({
      command: 'psql',
      args: ['-h', 'db.example.com', '-p', '32768', '-U', 'myaas', 'default'],
      env: { PGPASSWORD: 'p/w' },
    });
    expect(engine.client.dsn(c)).toBe('postgresql://myaas:p%2Fw@db.example.com:32768/default');
  });
});
