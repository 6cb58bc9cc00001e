import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../../controller/api/api-server.js';
import { silentLogger } from '../../../controller/log.js';
import { callApi } from '../../support/api.js';
import { runCli } from '../../support/cli.js';
import type { Flavor } from '../../support/flavors.js';
import { openSession } from '../../support/session.js';
import { databaseObject, templateObject } from '../../support/specs.js';
import { type Pair, TestBed } from '../../support/testbed.js';
import { sleep, waitFor } from '../../support/wait.js';

/** Short enough for a test, long enough that a poll (1 s) and a start fit well inside it. */
const AFTER_SECONDS = 5;

/** Runs the built CLI against `base`; never throws. */
const cli = (base: string, dir: string, args: string[]) => runCli(base, dir, args, 120_000);

/**
 * Idle databases stop themselves (issue 17) on one runtime and engine: with a short `after` and a
 * 1 s --idle-poll, a database nobody is connected to is stopped (data kept) and held stopped although
 * its spec says Running, until `myaas start`, the API's start route or a seed POST brings it back with
 * its data; one with an open client connection is not stopped; one under the template's default
 * Delete policy goes into the trash, from where it is restored with its data.
 */
export function describeIdle(pair: Pair, flavor: Flavor): void {
  const engine = flavor.engine;
  // The three cases use their own databases and mostly wait out idle periods: run side by side.
  describe.concurrent(`idle databases: ${engine} on ${pair.runtime} + ${pair.storage}`, () => {
    let bed: TestBed;
    let api: ApiServer;
    let base: string;
    const phase = (name: string) => bed.database(name)?.status.phase;
    const condition = (name: string, type: string) =>
      bed.database(name)?.status.conditions.find((c) => c.type === type);
    const marks = async (name: string) =>
      (await bed.query<{ v: number }>(name, 'SELECT v FROM idle_mark ORDER BY v')).map((r) => Number(r.v));
    const mark = async (name: string, value: number) => {
      await bed.query(name, 'CREATE TABLE IF NOT EXISTS idle_mark (v INT)');
      await bed.query(name, `INSERT INTO idle_mark VALUES (${value})`);
    };
    /** Waits until the idle watch stopped it: phase Stopped, the IdleStopped condition, no server running. */
    const waitIdleStopped = async (name: string, timeoutMs = 60_000) => {
      await waitFor(
        `Database/${name} stopped for idleness (${bed.database(name)?.status.message})`,
        () => phase(name) === 'Stopped' && condition(name, 'IdleStopped')?.status === 'True',
        timeoutMs,
        100,
      );
    };

    beforeAll(async () => {
      bed = new TestBed(`idle-${engine}-${pair.runtime}`, { pair, config: { idlePollSeconds: 1 } });
      bed.writeDump('shop.sql', flavor.shopDump(3, 'v1'));
      // The template's default: Delete. `busy` and `sleepy` say Stop for themselves.
      bed.writeSpec(
        'shop.yaml',
        templateObject('shop', {
          engine,
          source: { path: 'shop.sql' },
          databaseDefaults: { idle: { after: `${AFTER_SECONDS}s`, action: 'Delete' } },
        }),
      );
      const running = await bed.start();
      api = createApi(running, silentLogger);
      base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
      await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 180_000);
    });
    afterAll(async () => {
      await api?.close();
      await bed?.destroy();
    });

    it('an open client connection keeps a database running; once closed, it is stopped with its data and held stopped', async () => {
      // Made here, not before all: the cases run side by side, and `busy` would idle out waiting its turn.
      bed.writeSpec(
        'busy.yaml',
        databaseObject('busy', { idle: { after: `${AFTER_SECONDS}s`, action: 'Stop' } }),
      );
      await bed.waitForDatabase('busy', 'Ready', 120_000);
      const { close } = await openSession(bed, 'busy');
      await mark('busy', 1);
      // Three times `after`, with the watch looking every second: it counts the session each time.
      await sleep(3 * AFTER_SECONDS * 1000);
      expect(phase('busy')).toBe('Ready');
      const status = bed.database('busy')!.status;
      expect(status.idle).toMatchObject({ after: `${AFTER_SECONDS}s`, action: 'Stop', from: 'Database' });
      expect(Date.now() - Date.parse(status.lastActivity!)).toBeLessThan(5_000);
      expect(Date.now() - Date.parse(status.idle!.countedFrom)).toBeLessThan(5_000);
      const closedAt = Date.now();
      await close();
      await waitIdleStopped('busy', 30_000);
      const stoppedAfter = (Date.now() - closedAt) / 1000;
      expect(stoppedAfter).toBeGreaterThanOrEqual(AFTER_SECONDS - 1);
      expect(stoppedAfter).toBeLessThan(AFTER_SECONDS + 15);
      // The spec still says Running; resyncs (every 5 s here) do not start it again.
      await sleep(7_000);
      expect(phase('busy')).toBe('Stopped');
      const servers = (await bed.running!.runtime.servers.list()).filter((s) => s.owner === 'busy');
      expect(servers.filter((s) => s.running)).toEqual([]);
      const object = await callApi(base, 'GET', '/api/v1/databases/busy');
      expect((object.body.spec as { state: string }).state).toBe('Running');
      const get = await cli(base, bed.dir, ['get', 'databases', 'busy', '-o', 'wide']);
      expect(get.stdout.split('\n')[0]).toMatch(
        /^NAME\s+TEMPLATE\s+PHASE\s+PORT\s+EXPIRES\s+IDLE\s+AGE\s+IDLE POLICY/,
      );
      expect(get.stdout).toMatch(/busy\s+shop\s+Stopped\s+\S+\s+<never>\s+-\s+\S+\s+5s Stop/);
      const describeOut = await cli(base, bed.dir, ['describe', 'database', 'busy']);
      expect(describeOut.stdout).toContain('Idle:     5s without a client session: Stop (spec.idle)');
      expect(describeOut.stdout).toMatch(/Activity: last client session \S+ ago/);
      expect(describeOut.stdout).toMatch(/stopped after 5s without a client session.*myaas start busy/);

      // The API's start route brings it back (declared in a spec file: the file still says Running).
      const started = await callApi(base, 'POST', '/api/v1/databases/busy/start');
      expect(started.status).toBe(202);
      expect(String(started.body.status)).toContain('stopped for idleness');
      await bed.waitForDatabase('busy', 'Ready', 60_000);
      expect(await marks('busy')).toEqual([1]);
    });

    it('myaas create --idle, stopped when idle, `myaas start` brings it back with its data; a seed POST does too (201, not 304)', async () => {
      const created = await cli(base, bed.dir, [
        'create',
        'database',
        'sleepy',
        '--template',
        'shop',
        '--idle',
        `${AFTER_SECONDS}s:stop`,
        '--wait',
      ]);
      expect(created.code, created.stderr).toBe(0);
      expect((await callApi(base, 'GET', '/api/v1/databases/sleepy')).body.spec).toMatchObject({
        idle: { after: `${AFTER_SECONDS}s`, action: 'Stop' },
      });
      await mark('sleepy', 7);
      await waitIdleStopped('sleepy');
      const port = bed.database('sleepy')!.status.connection!.port;
      const start = await cli(base, bed.dir, ['start', 'sleepy', '--wait']);
      expect(start.code, start.stderr).toBe(0);
      expect(start.stdout).toContain('database/sleepy starting (it was stopped for idleness)');
      expect(start.stdout).toContain('database/sleepy ready');
      expect(await marks('sleepy')).toEqual([7]);
      expect(bed.database('sleepy')!.status.connection!.port).toBe(port);

      // Idle again: stopped again. The original API's client POSTs again: it gets it running.
      await waitIdleStopped('sleepy');
      const posted = await callApi(base, 'POST', '/db/shop/sleepy', { ttl: 3600 });
      expect(posted.status).toBe(201);
      expect(posted.body).toMatchObject({ name: 'sleepy', running: true, port: String(port) });
      expect(await flavor.queryAs(posted.body, 'SELECT v FROM idle_mark')).toHaveLength(1);
      // A running database answers 304 as before.
      expect((await callApi(base, 'POST', '/db/shop/sleepy', { ttl: 3600 })).status).toBe(304);
    });

    it("the template's default Delete: into the trash (IdleDeleted), restorable with its data", async () => {
      bed.writeSpec('doomed.yaml', databaseObject('doomed'));
      await bed.waitForDatabase('doomed', 'Ready', 60_000);
      await mark('doomed', 42);
      // The watch's first look (within a poll) shows the template's policy.
      await waitFor('Database/doomed watched', () => bed.database('doomed')?.status.idle, 10_000, 100);
      expect(bed.database('doomed')!.status.idle).toMatchObject({ action: 'Delete', from: 'Template' });
      await waitFor(
        'Database/doomed deleted for idleness',
        () => (phase('doomed') === 'Expired' ? true : undefined),
        60_000,
        100,
      );
      expect(bed.database('doomed')!.status.message).toMatch(/deleted after 5s without a client session/);
      const trash = await callApi(base, 'GET', '/api/v1/trash');
      const entry = (trash.body.items as { name: string; reason: string; id: string }[]).find(
        (e) => e.name === 'doomed',
      );
      expect(entry?.reason).toBe('IdleDeleted');
      expect(
        (await bed.running!.runtime.servers.list()).filter((s) => s.owner === 'doomed' && s.running),
      ).toEqual([]);
      // Stays deleted: its spec file is unchanged.
      await sleep(6_000);
      expect(phase('doomed')).toBe('Expired');
      const restored = await callApi(base, 'POST', '/api/v1/databases/doomed/restore');
      expect(restored.status).toBe(200);
      expect(restored.body.phase).toBe('Ready');
      const { close } = await openSession(bed, 'doomed');
      try {
        expect(await marks('doomed')).toEqual([42]);
      } finally {
        await close();
      }
    });
  });
}
