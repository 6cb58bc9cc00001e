import { existsSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shopDump } from '../support/dumps.js';
import { databaseObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep } from '../support/wait.js';

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

interface Model {
  state: 'Running' | 'Stopped';
  reset: number;
  /** The row written after the first Ready is still expected (no reset since). */
  ownRow: boolean;
}

const SEED = Number(process.env.FAULT_SEED ?? Date.now() % 1_000_000);

describe(`kill -9 of the controller at random points of a mixed run (FAULT_SEED=${SEED})`, () => {
  const bed = new TestBed('faults-chaos');

  afterAll(async () => {
    await bed.destroy();
  });

  it('converges after every restart: own data kept, no orphan, no duplicate', async () => {
    const random = prng(SEED);
    const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)]!;
    const model = new Map<string, Model>();
    const write = (name: string) => {
      const m = model.get(name)!;
      bed.writeSpec(
        `${name}.yaml`,
        databaseObject(
          name,
          { state: m.state },
          m.reset ? { annotations: { 'myaas.dev/reset': `r${m.reset}` } } : {},
        ),
      );
    };

    // Eight databases with rows of their own: what the run must not lose.
    bed.declareShop();
    const first = Array.from({ length: 8 }, (_, i) => `own${i}`);
    for (const n of first) {
      model.set(n, { state: 'Running', reset: 0, ownRow: true });
      write(n);
    }
    await bed.spawn();
    const v1 = (await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 180_000)).status
      .currentVersion;
    for (const n of first) {
      await bed.waitForDatabase(n, 'Ready', 180_000);
      await bed.query(n, `INSERT INTO products VALUES (100, 'own-${n}', 1)`);
    }

    // 30 operations; after some of them, a kill -9 at a random moment and a restart.
    let created = 0;
    let deleted = 0;
    let kills = 0;
    const ops: string[] = [];
    for (let i = 0; i < 30; i++) {
      const live = [...model.keys()];
      let op = pick(['create', 'create', 'delete', 'stop', 'start', 'reset']);
      if (i === 15) op = 'reimport';
      if (op === 'delete' && deleted >= 4) op = 'create';
      if (op === 'create') {
        const name = `new${created++}`;
        model.set(name, { state: 'Running', reset: 0, ownRow: false });
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
        write(name);
        ops.push(`reset ${name}`);
      } else {
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
    }
    console.log(`seed ${SEED}: ${kills} kills; ${ops.join(', ')}`);
    // The reimport finished (v2 is current) and every database reached its declared state.
    await bed.waitForTemplate(
      'shop',
      (s) => s.currentVersion !== v1 && s.lastImport?.result === 'Succeeded',
      'v2 imported',
      300_000,
    );
    for (const [name, m] of model)
      await bed.waitForDatabase(name, m.state === 'Running' ? 'Ready' : 'Stopped', 180_000);

    // One more kill -9 and restart on the converged state changes nothing.
    await bed.kill9();
    await bed.spawn();
    await sleep(3000);

    for (const [name, m] of model) {
      const db = await bed.waitForDatabase(name, m.state === 'Running' ? 'Ready' : 'Stopped', 120_000);
      expect(db.record.resetToken, name).toBe(m.reset ? `r${m.reset}` : '');
      if (m.state !== 'Running') continue;
      const own = await bed.query<{ name: string }>(name, 'SELECT name FROM products WHERE id = 100');
      expect(own, `${name}: own row`).toEqual(m.ownRow ? [{ name: `own-${name}` }] : []);
      const [label] = await bed.query<{ v: string }>(name, `SELECT v FROM meta WHERE k = 'label'`);
      expect(['v1', 'v2'], `${name}: template data`).toContain(label?.v);
    }

    // Zero orphans and duplicates: running containers = Running databases, one each; clones = declared
    // databases; no import container, no work volume.
    const containers = await bed.containers();
    const running = containers.filter((c) => c.State === 'running');
    const owners = running.map((c) => `${c.Labels['myaas.dev/kind']}/${c.Labels['myaas.dev/name']}`).sort();
    const expected = [...model]
      .filter(([, m]) => m.state === 'Running')
      .map(([n]) => `Database/${n}`)
      .sort();
    expect(owners).toEqual(expected);
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
  });
});
