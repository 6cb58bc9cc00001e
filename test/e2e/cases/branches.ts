import { execFile } from 'node:child_process';
import { readFileSync, readdirSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../../controller/api/api-server.js';
import { silentLogger } from '../../../controller/log.js';
import { callApi } from '../../support/api.js';
import { PG_DUMP_PREAMBLE } from '../../support/dumps.js';
import { openSession } from '../../support/session.js';
import { databaseObject, templateObject } from '../../support/specs.js';
import { type Pair, TestBed } from '../../support/testbed.js';
import { waitFor } from '../../support/wait.js';

type EngineName = 'mariadb' | 'postgres';

const run = promisify(execFile);
const MAIN = path.resolve(import.meta.dirname, '../../../dist/controller/main.js');

/** A table rows go into, and (MariaDB) an Aria table: FTWRL must make non-InnoDB tables consistent too. */
function ledgerDump(engine: EngineName): string {
  if (engine === 'postgres')
    return `${PG_DUMP_PREAMBLE}
CREATE TABLE public.ledger (id integer PRIMARY KEY, note text NOT NULL);
INSERT INTO public.ledger VALUES (1, 'from-template');
`;
  return `CREATE TABLE ledger (id INT PRIMARY KEY, note VARCHAR(64) NOT NULL) ENGINE=InnoDB;
INSERT INTO ledger VALUES (1, 'from-template');
CREATE TABLE tally (id INT PRIMARY KEY, n INT NOT NULL) ENGINE=Aria;
INSERT INTO tally VALUES (1, 0);
`;
}

/**
 * Branches (issue 16): a Database whose source is another database starts from a consistent copy of
 * it taken while it runs, with fresh credentials; its reset goes back to that point; removing the
 * source never breaks it. Run on each runtime/storage pair for each engine.
 */
export function describeBranches(pair: Pair, engine: EngineName): void {
  describe(`branches: ${engine} on ${pair.runtime} + ${pair.storage}`, () => {
    const bed = new TestBed(`branch-${engine}-${pair.runtime}`, { pair });
    let api: ApiServer;
    let base: string;
    const ids = async (db: string) =>
      (await bed.query<{ id: number }>(db, 'SELECT id FROM ledger ORDER BY id')).map((r) => Number(r.id));
    const notes = async (db: string) =>
      (await bed.query<{ note: string }>(db, 'SELECT note FROM ledger ORDER BY id')).map((r) => r.note);

    beforeAll(async () => {
      bed.writeDump('ledger.sql', ledgerDump(engine));
      bed.writeSpec('ledger.yaml', templateObject('ledger', { engine, source: { path: 'ledger.sql' } }));
      bed.writeSpec('src.yaml', databaseObject('src', { template: 'ledger' }));
      const running = await bed.start();
      api = createApi(running, silentLogger);
      base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
      await bed.waitForDatabase('src', 'Ready', 180_000);
    });
    afterAll(async () => {
      await api?.close();
      await bed.destroy();
    });

    it('a branch has the rows committed before its point and none after, while the source keeps serving', async () => {
      await bed.query('src', "INSERT INTO ledger VALUES (2, 'before')");
      // A client writes to the source all along, one committed row at a time, timing each commit.
      const writer = await openSession(bed, 'src');
      let next = 1000;
      let longestMs = 0;
      let writing = true;
      const loop = (async () => {
        while (writing) {
          const started = performance.now();
          await writer.query(`INSERT INTO ledger VALUES (${next}, 'during')`);
          if (engine === 'mariadb') await writer.query('UPDATE tally SET n = n + 1');
          longestMs = Math.max(longestMs, performance.now() - started);
          next++;
        }
      })();
      await waitFor('the writer to get going', () => next > 1010, 30_000);
      bed.writeSpec('br.yaml', databaseObject('br', { template: undefined, source: { database: 'src' } }));
      const branch = await bed.waitForDatabase('br', 'Ready', 120_000);
      writing = false;
      await loop;
      await writer.close();
      await bed.query('src', "INSERT INTO ledger VALUES (3, 'after')");

      const branchIds = await ids('br');
      expect(branchIds.slice(0, 2)).toEqual([1, 2]);
      expect(branchIds).not.toContain(3);
      // The rows written during the branch are a gap-free prefix of the source's: one point in time.
      const during = branchIds.filter((id) => id >= 1000);
      expect(during).toEqual(during.map((_, i) => 1000 + i));
      expect(next - 1000).toBeGreaterThan(during.length);
      if (engine === 'mariadb') {
        // The Aria counter moved with the InnoDB rows: both tables are of the same moment (the point
        // may fall between a row's insert and its counter's update, two statements).
        const [tally] = await bed.query<{ n: number }>('br', 'SELECT n FROM tally');
        expect([during.length - 1, during.length]).toContain(Number(tally?.n));
      }
      const lineage = branch.status.branchedFrom!;
      expect(lineage).toMatchObject({
        database: 'src',
        template: 'ledger',
        templateVersion: bed.database('src')!.status.templateVersion,
        method: pair.storage === 'btrfs' ? 'snapshot' : expect.stringMatching(/^(reflink|copy)$/),
      });
      const point = path.join(bed.dataDir, 'branches', 'br');
      if (pair.storage === 'btrfs') {
        expect(lineage.pausedMs).toBe(0);
        // The point is one read-only snapshot of the live datadir, made in one step (no partial).
        const { stdout } = await run('btrfs', ['property', 'get', '-ts', point, 'ro']);
        expect(stdout.trim()).toBe('ro=true');
      } else {
        expect(lineage.pausedMs).toBeGreaterThan(0);
        // The pause froze the whole server, the writer's own backend included (PostgreSQL backends
        // leave the postmaster's process group): a commit waited through most of it.
        expect(longestMs).toBeGreaterThan(lineage.pausedMs * 0.5);
      }
      expect(readdirSync(path.dirname(point)).filter((f) => f.includes('partial'))).toEqual([]);
      expect(branch.status.template).toBe('ledger');
      // Fresh credentials: the branch's own password, and the source's is refused there.
      const source = bed.database('src')!;
      expect(branch.record.user.password).not.toBe(source.record.user.password);
      expect(branch.record.adminPassword).not.toBe(source.record.adminPassword);
      const refused = await (engine === 'postgres'
        ? new pg.Client({
            host: '127.0.0.1',
            port: branch.status.connection!.port,
            user: source.status.connection!.user,
            password: source.record.user.password,
            database: source.status.connection!.database,
          }).connect()
        : mysql.createConnection({
            host: '127.0.0.1',
            port: branch.status.connection!.port,
            user: source.status.connection!.user,
            password: source.record.user.password,
          })
      ).then(
        () => false,
        () => true,
      );
      expect(refused).toBe(true);
      console.log(
        `[branch ${engine} ${pair.runtime}+${pair.storage}] longest source commit during the branch: ${longestMs.toFixed(0)} ms; writes held ${lineage.lockMs} ms, server paused ${lineage.pausedMs} ms (${lineage.method}); ${during.length} of ${next - 1000} concurrent rows in the branch`,
      );
    });

    it('writes stay on their side; a reset goes back to the branch point, not to the source now', async () => {
      await bed.query('br', "INSERT INTO ledger VALUES (4, 'branch-only')");
      expect(await ids('src')).not.toContain(4);
      await bed.query('src', "INSERT INTO ledger VALUES (5, 'source-later')");
      expect(await ids('br')).not.toContain(5);
      const before = bed.database('br')!;
      bed.writeSpec(
        'br.yaml',
        databaseObject(
          'br',
          { template: undefined, source: { database: 'src' } },
          { annotations: { 'myaas.dev/reset': 'one' } },
        ),
      );
      await waitFor('the reset', () => bed.database('br')?.status.lastReset?.token === 'one', 60_000);
      await bed.waitForDatabase('br', 'Ready');
      const after = await ids('br');
      expect(after).not.toContain(4);
      expect(after).not.toContain(5);
      expect(after).not.toContain(3);
      expect(after.slice(0, 2)).toEqual([1, 2]);
      // Same point, same credentials and port.
      expect(bed.database('br')!.status.branchedFrom).toEqual(before.status.branchedFrom);
      expect(bed.database('br')!.status.connection?.port).toBe(before.status.connection?.port);
    });

    it('a template from a database (myaas snapshot) serves that state to new clones, masked by its steps, and takes a new snapshot on a touch', async () => {
      bed.writeSpec(
        'snap.yaml',
        templateObject('snap', {
          engine,
          source: { database: 'src' },
          import: { steps: [{ sql: "UPDATE ledger SET note = 'masked' WHERE id = 2" }] },
        }),
      );
      const first = await bed.waitForTemplate('snap', (s) => s.phase === 'Ready', 'Ready', 120_000);
      bed.writeSpec('from-snap.yaml', databaseObject('from-snap', { template: 'snap' }));
      await bed.waitForDatabase('from-snap', 'Ready', 120_000);
      expect(await ids('from-snap')).toEqual(expect.arrayContaining([1, 2, 3, 5]));
      expect((await notes('from-snap'))[1]).toBe('masked');
      expect((await notes('src'))[1]).toBe('before');
      const meta = JSON.parse(
        readFileSync(
          path.join(bed.dataDir, 'templates', 'snap', `${first.status.currentVersion}.json`),
          'utf8',
        ),
      ) as { fromDatabase?: { database: string }; engine: string };
      expect(meta).toMatchObject({ fromDatabase: { database: 'src' }, engine });

      await bed.query('src', "INSERT INTO ledger VALUES (7, 'after-snapshot')");
      expect(await ids('from-snap')).not.toContain(7);
      // A touch of the spec file (the cron job's way) takes a new snapshot as a new version.
      const now = new Date();
      utimesSync(path.join(bed.specsDir, 'snap.yaml'), now, now);
      const second = await bed.waitForTemplate(
        'snap',
        (s) => s.phase === 'Ready' && s.currentVersion !== first.status.currentVersion,
        'a new version',
        120_000,
      );
      expect(second.status.versions).toContain(first.status.currentVersion);
      bed.writeSpec('from-snap2.yaml', databaseObject('from-snap2', { template: 'snap' }));
      await bed.waitForDatabase('from-snap2', 'Ready', 120_000);
      expect(await ids('from-snap2')).toContain(7);
      expect(await ids('from-snap')).not.toContain(7);

      // The CLI writes such a spec, and asks for a new snapshot of the same database again.
      const cli = (...args: string[]) =>
        run(process.execPath, [MAIN, ...args], { env: { ...process.env, MYAAS_URL: base } });
      expect((await cli('snapshot', 'src', '--template', 'snap-cli')).stdout).toMatch(/created/);
      const made = await bed.waitForTemplate('snap-cli', (s) => s.phase === 'Ready', 'Ready', 120_000);
      expect((await cli('snapshot', 'src', '--template', 'snap-cli')).stdout).toMatch(/new snapshot/);
      await bed.waitForTemplate(
        'snap-cli',
        (s) => s.phase === 'Ready' && s.currentVersion !== made.status.currentVersion,
        'a new version',
        120_000,
      );
      await expect(cli('snapshot', 'br', '--template', 'snap-cli')).rejects.toMatchObject({
        stderr: expect.stringContaining('a snapshot of database src'),
      });
    });

    it('a branch of a branch, through the API; removing the source never breaks a branch', async () => {
      const created = await callApi(base, 'POST', '/api/v1/databases', {
        metadata: { name: 'br2' },
        spec: { source: { database: 'br' } },
      });
      expect(created.status).toBe(201);
      await bed.waitForDatabase('br2', 'Ready', 120_000);
      expect(bed.database('br2')!.status.branchedFrom).toMatchObject({ database: 'br', template: 'ledger' });
      const unknown = await callApi(base, 'POST', '/api/v1/databases', {
        metadata: { name: 'br3' },
        spec: { source: { database: 'nope' } },
      });
      expect(unknown).toMatchObject({ status: 404, body: { status: expect.stringContaining('"nope"') } });

      bed.removeSpec('src.yaml');
      await waitFor(
        'src removed',
        async () => !bed.database('src') && (await bed.serversOf('src')).length === 0,
        60_000,
      );
      bed.removeSpec('br.yaml');
      await waitFor(
        'br removed',
        async () => !bed.database('br') && (await bed.serversOf('br')).length === 0,
        60_000,
      );
      // br2's data and its branch point are its own: it serves, stops, starts and resets without them.
      expect(await notes('br2')).toContain('before');
      const setState = async (state: string) => {
        const current = await callApi(base, 'GET', '/api/v1/databases/br2');
        const { metadata, spec } = current.body as { metadata: { name: string }; spec: object };
        const put = await callApi(base, 'PUT', '/api/v1/databases/br2', {
          apiVersion: 'myaas.dev/v1alpha1',
          kind: 'Database',
          metadata: { name: metadata.name },
          spec: { ...spec, state },
        });
        expect(put.status).toBe(200);
      };
      await setState('Stopped');
      await bed.waitForDatabase('br2', 'Stopped');
      await setState('Running');
      await bed.waitForDatabase('br2', 'Ready');
      await bed.query('br2', "INSERT INTO ledger VALUES (6, 'br2-only')");
      expect((await callApi(base, 'POST', '/api/v1/databases/br2/reset')).status).toBeLessThan(300);
      await waitFor('br2 reset', () => bed.database('br2')?.status.lastReset !== undefined, 60_000);
      await bed.waitForDatabase('br2', 'Ready');
      expect(await notes('br2')).toEqual(expect.arrayContaining(['from-template', 'before']));
      expect(await ids('br2')).not.toContain(6);
    });
  });
}
