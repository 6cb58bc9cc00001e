import { describe, expect, it } from 'vitest';
import { defaultConfig } from '../../../controller/config.js';
import { silentLogger } from '../../../controller/log.js';
import type { DeclaredSpec, TemplateSpec } from '../../../controller/objects/index.js';
import { DeletionGuard } from '../../../controller/reconcile/deletion-guard.js';
import { importDigest, importReason } from '../../../controller/reconcile/template-reconciler.js';

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
  const guardFor = (existing: string[], unwanted: string[]) =>
    new DeletionGuard({
      what: 'database',
      max: 3,
      fraction: 0.5,
      log: silentLogger,
      inventory: async () => ({ existing: new Set(existing), unwanted: new Set(unwanted) }),
    });
  const names = (n: number) => Array.from({ length: n }, (_, i) => `d${i}`);

  it('allows up to the bound, or up to half', async () => {
    expect((await guardFor(names(10), names(3)).check('d0')).allowed).toBe(true);
    expect((await guardFor(names(10), names(5)).check('d0')).allowed).toBe(true);
    expect((await guardFor(names(4), names(2)).check('d0')).allowed).toBe(true);
  });
  it('holds when both are exceeded, until the pending set is confirmed', async () => {
    const guard = guardFor(names(10), names(6));
    const verdict = await guard.check('d0');
    expect(verdict).toMatchObject({ allowed: false, message: expect.stringContaining('6 of 10 databases') });
    expect(guard.held).toHaveLength(6);
    expect(await guard.confirm()).toHaveLength(6);
    expect((await guard.check('d0')).allowed).toBe(true);
  });
  it('a confirmation covers only what was pending then', async () => {
    let unwanted = names(6);
    const guard = new DeletionGuard({
      what: 'database',
      max: 3,
      fraction: 0.5,
      log: silentLogger,
      inventory: async () => ({ existing: new Set(names(10)), unwanted: new Set(unwanted) }),
    });
    await guard.confirm();
    unwanted = names(8);
    expect((await guard.check('d7')).allowed).toBe(false);
  });
});
