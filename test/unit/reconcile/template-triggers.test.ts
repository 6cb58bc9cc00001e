import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../controller/config.js';
import { silentLogger } from '../../../controller/log.js';
import type { ObjectKey } from '../../../controller/objects/index.js';
import type { DeclaredSpec, TemplateSpec } from '../../../controller/objects/index.js';
import { DeletionGuard } from '../../../controller/reconcile/deletion-guard.js';
import {
  dumpSettleWaitMs,
  importDigest,
  importReason,
} from '../../../controller/reconcile/template-reconciler.js';

const trigger = { specDigest: 'spec1', dump: '100:5000', reimportToken: '' };
const record = (fileMtimeMs: number) => ({ fileMtimeMs }) as DeclaredSpec;

describe('import triggers', () => {
  it('imports a template with no version', () => {
    expect(importReason(trigger, undefined, record(0), {})).toBe('no version yet');
  });
  it('reimports on a spec, dump or annotation change, and on a touch after the last import started', () => {
    const attempt = { lastAttempt: { trigger, startedAt: 10_000, failures: 0 } };
    expect(importReason(trigger, trigger, record(9_000), attempt)).toBeUndefined();
    expect(importReason({ ...trigger, specDigest: 'spec2' }, trigger, record(0), attempt)).toBe(
      'spec changed',
    );
    expect(importReason({ ...trigger, dump: '101:5000' }, trigger, record(0), attempt)).toBe('dump changed');
    expect(importReason({ ...trigger, dump: '100:6000' }, trigger, record(0), attempt)).toBe('dump changed');
    expect(importReason({ ...trigger, reimportToken: 'x' }, trigger, record(0), attempt)).toBe(
      'reimport requested',
    );
    expect(importReason(trigger, trigger, record(11_000), attempt)).toBe('spec file touched');
  });
  it('a dump written a moment ago waits only until it is half a second old: its import starts within a second', () => {
    const now = 1_000_000;
    // The dumps watcher reports a write after 200 ms of quiet: what is left to wait is short.
    expect(dumpSettleWaitMs(now - 200, now)).toBe(300);
    expect(dumpSettleWaitMs(now - 200, now) + 200).toBeLessThan(1000);
    expect(dumpSettleWaitMs(now - 500, now)).toBe(0);
    // Replaced by a file made earlier (mv, cp -p): imported at once.
    expect(dumpSettleWaitMs(now - 3_600_000, now)).toBe(0);
    // A clock ahead on the writer's side waits no longer than a fresh write.
    expect(dumpSettleWaitMs(now + 60_000, now)).toBe(500);
  });
  it('a restart alone (no record of attempts) never reimports an up-to-date version', () => {
    expect(importReason(trigger, trigger, record(Date.now()), {})).toBeUndefined();
  });
  it('digests only the import-relevant fields, with defaults resolved', () => {
    const config = defaultConfig('/x');
    const spec: TemplateSpec = { engine: 'mariadb', source: { path: 'a.sql' }, import: {} };
    expect(importDigest(spec, config)).toBe(
      importDigest({ ...spec, image: config.image, database: 'default' }, config),
    );
    expect(importDigest(spec, config)).not.toBe(importDigest({ ...spec, database: 'other' }, config));
    expect(importDigest(spec, config)).toBe(importDigest({ ...spec, import: { timeoutSeconds: 5 } }, config));
  });
});

describe('DeletionGuard', () => {
  const names = (n: number, kind = 'Database') =>
    Array.from({ length: n }, (_, i) => `${kind}/d${i}` as ObjectKey);
  const guardWith = (inventory: () => { existing: ObjectKey[]; unwanted: ObjectKey[] }, options = {}) => {
    let now = 1_000_000;
    const guard = new DeletionGuard({
      limit: 10,
      max: 3,
      fraction: 0.5,
      graceMs: 0,
      log: silentLogger,
      now: () => now,
      inventory: async () => {
        const { existing, unwanted } = inventory();
        return { existing: new Set(existing), unwanted: new Set(unwanted) };
      },
      ...options,
    });
    return {
      guard,
      advance: (ms: number) => {
        now += ms;
      },
    };
  };
  const guardFor = (existing: ObjectKey[], unwanted: ObjectKey[]) =>
    guardWith(() => ({ existing, unwanted })).guard;

  it('allows up to the bound, or up to half', async () => {
    expect((await guardFor(names(10), names(3)).check('Database/d0')).allowed).toBe(true);
    expect((await guardFor(names(10), names(5)).check('Database/d0')).allowed).toBe(true);
    expect((await guardFor(names(4), names(2)).check('Database/d0')).allowed).toBe(true);
  });
  it('holds when both are exceeded, until the pending set is confirmed', async () => {
    const guard = guardFor(names(10), names(6));
    const verdict = await guard.check('Database/d0');
    expect(verdict).toMatchObject({ allowed: false, message: expect.stringContaining('6 of 10 objects') });
    expect(guard.held).toHaveLength(6);
    expect(await guard.confirm()).toHaveLength(6);
    expect((await guard.check('Database/d0')).allowed).toBe(true);
  });
  it('tells its subscribers when the held list changes, and only then (what the live stream of the UI follows)', async () => {
    let unwanted = names(6);
    const { guard } = guardWith(() => ({ existing: names(10), unwanted }));
    const told: string[][] = [];
    guard.subscribe((held) => told.push([...held]));
    await guard.refresh();
    await guard.refresh();
    expect(told).toEqual([names(6)]);
    await guard.confirm();
    expect(told).toEqual([names(6), []]);
    unwanted = [];
    await guard.refresh();
    expect(told).toHaveLength(2);
  });
  it('a confirmation covers only what was pending then', async () => {
    let unwanted = names(6);
    const { guard } = guardWith(() => ({ existing: names(10), unwanted }));
    await guard.confirm();
    unwanted = names(8);
    expect((await guard.check('Database/d7')).allowed).toBe(false);
  });
  it('counts absolute numbers too: 99 of 200 at once is held', async () => {
    const guard = guardFor(names(200), names(99));
    expect((await guard.check('Database/d0')).allowed).toBe(false);
    expect(guard.held).toHaveLength(99);
  });
  it('holds a mass removal as a whole: members coming back one by one release none of the rest', async () => {
    // rm specs/* then the files restored one at a time: the guard saw 20 of 21 go.
    let unwanted = names(20);
    const { guard } = guardWith(() => ({ existing: names(21), unwanted }));
    expect((await guard.check('Database/d0')).allowed).toBe(false);
    for (let back = 1; back < 20; back++) {
      unwanted = names(20).slice(back);
      // Fewer than half are missing now, and still nothing of the held set may go.
      expect((await guard.check(`Database/d${back}`)).allowed).toBe(false);
      expect((await guard.check('Database/d19')).allowed).toBe(false);
    }
    // Every member back: the hold is lifted; a later single removal goes through again.
    unwanted = [];
    await guard.check('Database/d0');
    expect(guard.held).toEqual([]);
    unwanted = ['Database/d3'];
    expect((await guard.check('Database/d3')).allowed).toBe(true);
  });
  it('guards templates in the same set as databases', async () => {
    const existing = [...names(3), ...names(2, 'Template')];
    const guard = guardFor(existing, existing);
    expect((await guard.check('Template/d0')).allowed).toBe(false);
    expect(guard.held).toContain('Template/d0');
  });
  it('waits out the grace before a removal, unless it was an explicit deletion', async () => {
    let unwanted: ObjectKey[] = ['Database/d1'];
    const { guard, advance } = guardWith(() => ({ existing: names(10), unwanted }), { graceMs: 10_000 });
    const first = await guard.check('Database/d1');
    expect(first).toMatchObject({ allowed: false, retryAfterMs: 10_000 });
    advance(9_000);
    expect((await guard.check('Database/d1')).allowed).toBe(false);
    advance(1_000);
    expect((await guard.check('Database/d1')).allowed).toBe(true);
    // Back within the grace, then gone again: the grace starts over.
    unwanted = [];
    await guard.check('Database/d1');
    unwanted = ['Database/d1'];
    expect((await guard.check('Database/d1')).allowed).toBe(false);
    guard.markExplicit('Database/d2');
    unwanted = ['Database/d1', 'Database/d2'];
    expect((await guard.check('Database/d2')).allowed).toBe(true);
  });
  it('explicit deletions do not count toward a mass removal', async () => {
    const { guard } = guardWith(() => ({ existing: names(10), unwanted: names(6) }));
    for (const key of names(6)) guard.markExplicit(key);
    expect((await guard.check('Database/d0')).allowed).toBe(true);
    expect(guard.held).toEqual([]);
  });
});
