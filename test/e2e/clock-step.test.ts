import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { databaseObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

/** libfaketime (Debian's `faketime`, installed by scripts/test-env): moves the wall clock of one process. */
const LIBFAKETIME = '/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1';

/**
 * Issue 13, time: an NTP step forward must not expire every database in one pass. The controller runs
 * under libfaketime with its wall clock read from a file, its monotonic clock untouched, as a real
 * step does; the databases' servers (containers) keep the real clock.
 */
describe('a wall-clock step does not expire databases (docker + btrfs)', () => {
  const bed = new TestBed('clock-step');
  afterAll(async () => {
    await bed.destroy();
  });

  it('a step of two days forward pauses expiry for a pass, logged; a step back within it expires nothing', async () => {
    expect(existsSync(LIBFAKETIME), 'libfaketime installed (scripts/test-env up installs faketime)').toBe(
      true,
    );
    const offset = path.join(bed.dir, 'faketime-offset');
    writeFileSync(offset, '+0\n');
    bed.declareShop();
    const names = ['n1', 'n2', 'n3'];
    // Three is within the deletion guard's bounds: only the clock check stands between them and expiry.
    bed.writeSpec('team.yaml', ...names.map((n) => databaseObject(n, { ttl: '1h' })));
    await bed.spawn(undefined, {
      LD_PRELOAD: LIBFAKETIME,
      FAKETIME_TIMESTAMP_FILE: offset,
      FAKETIME_NO_CACHE: '1',
      FAKETIME_DONT_FAKE_MONOTONIC: '1',
    });
    for (const n of names) await bed.waitForDatabase(n, 'Ready', 180_000);
    const ids = new Map<string, string>();
    for (const c of await bed.containers()) ids.set(c.Labels['myaas.dev/name']!, c.Id);

    writeFileSync(offset, '+2d\n');
    await waitFor(
      'expiry held for the step',
      () =>
        names.every((n) =>
          bed
            .database(n)
            ?.status.conditions.some((c) => c.reason === 'ExpiryHeld' && c.message.includes('wall clock')),
        ),
      30_000,
    );
    const log = readFileSync(path.join(bed.dir, 'controller.log'), 'utf8');
    expect(log).toContain('the wall clock stepped');
    // The step corrected (back to the real time) before the pause ends: nothing ever expired.
    writeFileSync(offset, '+0\n');
    await sleep(2 * bed.config.resyncSeconds * 1000);
    for (const n of names) {
      expect(bed.database(n)?.status.phase, n).toBe('Ready');
      expect((await bed.containers()).find((c) => c.Labels['myaas.dev/name'] === n)?.Id, n).toBe(ids.get(n));
    }
  });
});
