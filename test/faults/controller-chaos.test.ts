import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shopDump } from '../support/dumps.js';
import { databaseObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

/** A small seeded PRNG (mulberry32): the run is random, and replayable with FAULT_SEED. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The template's data, by the label its `meta` table holds: v1 at first, v2 after the reimport. */
type Label = 'v1' | 'v2';

interface Model {
  state: 'Running' | 'Stopped';
  reset: number;
  /**
   * Its own row (id 100, `own-<name>@<reset>`) was written into its current clone: expected until the
   * next reset. undefined: a write that failed in a way that does not say whether it landed.
   */
  ownRow: boolean | undefined;
  /**
   * The template data its clone must hold: exactly one label, or both when it was created or reset
   * while the reimport was in flight (the only place the run cannot know which version it gets).
   */
  labels: Label[];
}

/**
 * The seeds of this run: FAULT_SEED=<n> replays one; FAULT_SEEDS=a,b,c runs those; else three from the
 * clock. Each seed is in its test's name.
 */
function seeds(): number[] {
  if (process.env.FAULT_SEED) return [Number(process.env.FAULT_SEED)];
  if (process.env.FAULT_SEEDS) return process.env.FAULT_SEEDS.split(',').map((s) => Number(s.trim()));
  const base = Date.now() % 1_000_000;
  const next = prng(base);
  return [base, Math.floor(next() * 1_000_000), Math.floor(next() * 1_000_000)];
}

/** What a row from before a reset most likely means (a known bug, not fixed yet). */
const LOST_RESET =
  'a reset lost, e.g. by a kill between the record save and the old clone removal (RESET_LOST_AT in crash-windows.test.ts)';

/**
 * Operations per seed. The reimport is operation REIMPORT_AT; before operation V2_BY the run waits for
 * it to be current, so creates and resets are exact v1 before, exact v2 after, and either in between.
 */
const OPS = 30;
const REIMPORT_AT = 12;
const V2_BY = 21;

describe.each(seeds())(
  'kill -9 of the controller at random points of a mixed run (FAULT_SEED=%i)',
  (seed) => {
    const bed = new TestBed('faults-chaos');

    afterAll(async () => {
      await bed.destroy();
    });

    it('converges after every restart: every database its own rows and its exact template version, no orphan, no duplicate', async () => {
      const random = prng(seed);
      const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
      const model = new Map<string, Model>();
      const notes: string[] = [];
      const write = (name: string, state = model.get(name)!.state) => {
        const m = model.get(name)!;
        bed.writeSpec(
          `${name}.yaml`,
          databaseObject(
            name,
            { state },
            m.reset ? { annotations: { 'myaas.dev/reset': `r${m.reset}` } } : {},
          ),
        );
      };
      const token = (m: Model) => (m.reset ? `r${m.reset}` : '');
      /** Its latest create or reset has its clone (status saved after the clone, for this reset token). */
      const cloned = (name: string) => {
        const db = bed.database(name);
        const m = model.get(name)!;
        return (
          (db?.status.phase === 'Ready' || db?.status.phase === 'Stopped') &&
          db.record.resetToken === token(m)
        );
      };

      // The template version a create or reset made now gets: v1 until the reimport, v2 once the status
      // says v2 is current (it is complete on disk then), either one in between.
      let template: 'v1' | 'reimporting' | 'v2' = 'v1';
      let v2: string | undefined;
      const labelsNow = (name: string, op: string): Label[] => {
        if (template === 'reimporting') {
          const current = bed.template('shop')?.status.currentVersion;
          if (current && current !== v1) {
            template = 'v2';
            v2 = current;
          }
        }
        if (template === 'reimporting')
          notes.push(`${op} ${name} while the reimport was in flight: v1 or v2`);
        return template === 'v1' ? ['v1'] : template === 'v2' ? ['v2'] : ['v1', 'v2'];
      };

      /** Writes its own row into a Running database whose status says its latest clone is Ready. */
      const writeOwnRow = async (name: string) => {
        const m = model.get(name)!;
        const db = bed.database(name);
        if (m.state !== 'Running' || m.ownRow !== false || !cloned(name) || db?.status.phase !== 'Ready')
          return;
        try {
          await bed.query(name, `INSERT INTO products VALUES (100, 'own-${name}@${m.reset}', 1)`);
          m.ownRow = true;
        } catch (error) {
          const code = (error as { code?: string }).code;
          // A row already there: its clone is not the fresh one the model expects (a lost reset).
          expect(code, `${name}: own row already there: ${LOST_RESET}`).not.toBe('ER_DUP_ENTRY');
          m.ownRow = undefined;
          notes.push(`${name}: own row write failed (${code ?? (error as Error).message}): outcome unknown`);
        }
      };

      // Eight databases with rows of their own: what the run must not lose.
      bed.declareShop();
      const first = Array.from({ length: 8 }, (_, i) => `own${i}`);
      for (const n of first) {
        model.set(n, { state: 'Running', reset: 0, ownRow: false, labels: ['v1'] });
        write(n);
      }
      await bed.spawn();
      const v1 = (await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 180_000)).status
        .currentVersion!;
      for (const n of first) {
        await bed.waitForDatabase(n, 'Ready', 180_000);
        await writeOwnRow(n);
        expect(model.get(n)!.ownRow, n).toBe(true);
      }

      // OPS operations; after some of them, a kill -9 at a random moment and a restart, and now and then
      // a row written into a database that is Ready at that moment.
      let created = 0;
      let deleted = 0;
      let kills = 0;
      const ops: string[] = [];
      for (let i = 0; i < OPS; i++) {
        const live = [...model.keys()];
        let op = pick(['create', 'create', 'delete', 'stop', 'start', 'reset']);
        if (i === REIMPORT_AT) op = 'reimport';
        if (i === V2_BY) {
          await bed.waitForTemplate('shop', (s) => s.currentVersion !== v1, 'v2 current', 300_000);
          expect(labelsNow('-', 'wait'), 'v2 current').toEqual(['v2']);
          ops.push('(v2 current)');
        }
        if (op === 'delete' && deleted >= 4) op = 'create';
        if (op === 'create') {
          const name = `new${created++}`;
          model.set(name, { state: 'Running', reset: 0, ownRow: false, labels: labelsNow(name, 'create') });
          write(name);
          ops.push(`create ${name}`);
        } else if (op === 'delete') {
          const name = pick(live);
          model.delete(name);
          bed.removeSpec(`${name}.yaml`);
          deleted++;
          ops.push(`delete ${name}`);
        } else if (op === 'stop' || op === 'start') {
          const name = pick(live);
          model.get(name)!.state = op === 'stop' ? 'Stopped' : 'Running';
          write(name);
          ops.push(`${op} ${name}`);
        } else if (op === 'reset') {
          const name = pick(live);
          const m = model.get(name)!;
          m.reset++;
          m.ownRow = false;
          m.labels = labelsNow(name, 'reset');
          write(name);
          ops.push(`reset ${name}`);
        } else {
          // Every create and reset so far has its clone first, so that each is known to hold v1 (one
          // not yet cloned could get either version, like those made while the reimport runs).
          for (const name of model.keys())
            await waitFor(`${name} cloned before the reimport`, () => cloned(name), 120_000, 50);
          for (const name of model.keys())
            expect(bed.database(name)?.record.templateVersion, `${name} before the reimport`).toBe(v1);
          template = 'reimporting';
          bed.writeDump('shop.sql', shopDump(3, 'v2'));
          ops.push('reimport shop');
        }
        await sleep(Math.floor(random() * 400));
        if (random() < 0.3) {
          await sleep(Math.floor(random() * 800));
          await bed.kill9();
          kills++;
          ops.push('kill -9');
          await bed.spawn();
        }
        if (random() < 0.4) await writeOwnRow(pick([...model.keys()]));
      }
      console.log(`seed ${seed}: ${kills} kills; ${ops.join(', ')}`);
      // The reimport finished (v2 is current) and every database reached its declared state.
      const imported = await bed.waitForTemplate(
        'shop',
        (s) => s.currentVersion !== v1 && s.lastImport?.result === 'Succeeded',
        'v2 imported',
        300_000,
      );
      v2 ??= imported.status.currentVersion!;
      expect(imported.status.currentVersion, 'one v2 import').toBe(v2);
      const versionLabel = new Map<string | undefined, Label>([
        [v1, 'v1'],
        [v2, 'v2'],
      ]);
      for (const [name, m] of model)
        await bed.waitForDatabase(name, m.state === 'Running' ? 'Ready' : 'Stopped', 180_000);

      // One more kill -9 and restart on the converged state changes nothing.
      await bed.kill9();
      await bed.spawn();
      await sleep(3000);

      for (const [name, m] of model) {
        const db = await bed.waitForDatabase(name, m.state === 'Running' ? 'Ready' : 'Stopped', 120_000);
        expect(db.record.resetToken, name).toBe(token(m));
        expect(m.labels, `${name}: cloned from ${db.record.templateVersion}`).toContain(
          versionLabel.get(db.record.templateVersion),
        );
      }
      // Zero orphans and duplicates: running containers = Running databases, one each; clones = declared
      // databases; no import container, no work volume.
      const expectServers = async (runningNames: string[]) => {
        const containers = await bed.containers();
        const running = containers.filter((c) => c.State === 'running');
        const owners = running
          .map((c) => `${c.Labels['myaas.dev/kind']}/${c.Labels['myaas.dev/name']}`)
          .sort();
        expect(owners).toEqual(runningNames.map((n) => `Database/${n}`).sort());
        const byName = new Map<string, number>();
        for (const c of containers)
          byName.set(c.Labels['myaas.dev/name']!, (byName.get(c.Labels['myaas.dev/name']!) ?? 0) + 1);
        expect([...byName].filter(([, count]) => count > 1)).toEqual([]);
        expect(
          readdirSync(path.join(bed.dataDir, 'databases'))
            .filter((e) => !e.endsWith('.record.json'))
            .sort(),
        ).toEqual([...model.keys()].sort());
        const work = path.join(bed.dataDir, 'work');
        expect(existsSync(work) ? readdirSync(work) : []).toEqual([]);
      };
      await expectServers([...model].filter(([, m]) => m.state === 'Running').map(([n]) => n));

      // Every database's data, Stopped ones included: all are started, then each must hold exactly its
      // own row (or none after a reset) and the template version it was cloned from.
      const stopped = [...model].filter(([, m]) => m.state === 'Stopped').map(([n]) => n);
      for (const name of stopped) write(name, 'Running');
      for (const name of model.keys()) await bed.waitForDatabase(name, 'Ready', 120_000);
      for (const [name, m] of model) {
        const db = bed.database(name)!;
        expect(db.record.resetToken, name).toBe(token(m));
        const own = await bed.query<{ name: string }>(name, 'SELECT name FROM products WHERE id = 100');
        if (m.ownRow === undefined) {
          notes.push(`${name}: own row ${own.length ? 'landed' : 'did not land'}`);
          expect([[], [{ name: `own-${name}@${m.reset}` }]], `${name}: own row`).toContainEqual(own);
        } else {
          expect(own, `${name}: own row (one from before a reset: ${LOST_RESET})`).toEqual(
            m.ownRow ? [{ name: `own-${name}@${m.reset}` }] : [],
          );
        }
        const [label] = await bed.query<{ v: string }>(name, `SELECT v FROM meta WHERE k = 'label'`);
        expect(label?.v, `${name}: data of ${db.record.templateVersion} (else: ${LOST_RESET})`).toBe(
          versionLabel.get(db.record.templateVersion),
        );
        expect(await bed.query(name, 'SELECT COUNT(*) AS n FROM products WHERE id < 100'), name).toEqual([
          { n: 3 },
        ]);
      }
      await expectServers([...model.keys()]);
      console.log(`seed ${seed}: ${notes.length ? notes.join('; ') : 'every expectation exact'}`);
    });
  },
);
