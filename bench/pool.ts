/**
 * Warm pool benchmark (issue 17): claim-to-first-query (seed API POST, then connect with the answer's
 * credentials and SELECT 1) of a template with a warm pool, beside the cold path (the same dump in a
 * template without a pool) and the raw floor (copy by hand + the same server by hand + first query),
 * interleaved in one run. MariaDB, both runtime/storage pairs. Needs `scripts/test-env up`.
 *   npx vite-node bench/pool.ts [--reps 20] [--pairs docker,process] [--sizes 10,1024]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createApi } from '../controller/api/api-server.js';
import { silentLogger } from '../controller/log.js';
import type { VersionMeta } from '../controller/objects/index.js';
import { poolMembers } from '../test/support/pool.js';
import { templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import { waitFor } from '../test/support/wait.js';
import {
  generatedMariadbDump,
  machine,
  mariadbFloor,
  median,
  option,
  p95,
  pairsOption,
  postToQuery,
  printTable,
  removeDatabaseAndWait,
  sizesOption,
  summarize,
  writeResults,
} from './lib.js';

const REPS = Number(option('reps', '20'));
const PAIRS = pairsOption();
const SIZES_MIB = sizesOption('10');

/** Waits until the template's pool has a ready member of `version` (the refill after a claim). */
async function poolReady(bed: TestBed, template: string, version: string): Promise<void> {
  await waitFor(
    `a ready member of ${template}`,
    () => poolMembers(bed, template).some((m) => m.ready && m.version === version),
    300_000,
    20,
  );
}

const results: ReturnType<typeof summarize>[] = [];
const raw: Record<string, unknown> = {};
for (const pair of PAIRS) {
  const bed = new TestBed(`bench-pool-${pair.runtime}`, {
    pair,
    config: { importMemoryMiB: 2048, deletionGuardMax: 1000 },
    logLevel: 'info',
  });
  try {
    const running = await bed.start();
    const api = createApi(running, silentLogger);
    const base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    for (const mib of SIZES_MIB) {
      const warm = `w${mib}`;
      const cold = `c${mib}`;
      const dump = generatedMariadbDump(mib);
      bed.writeDump(`${warm}.sql`, dump);
      bed.writeDump(`${cold}.sql`, dump);
      bed.writeSpec(
        `${warm}.yaml`,
        templateObject(warm, { source: { path: `${warm}.sql` }, pool: { size: 1 } }),
      );
      bed.writeSpec(`${cold}.yaml`, templateObject(cold, { source: { path: `${cold}.sql` } }));
      const w = await bed.waitForTemplate(warm, (s) => s.phase === 'Ready', 'Ready', 1_800_000);
      const c = await bed.waitForTemplate(cold, (s) => s.phase === 'Ready', 'Ready', 1_800_000);
      const version = c.status.currentVersion!;
      const meta = JSON.parse(
        readFileSync(path.join(bed.dataDir, 'templates', cold, `${version}.json`), 'utf8'),
      ) as VersionMeta;
      const claim: number[] = [];
      const coldPath: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i < REPS; i++) {
        // Interleaved: load on the shared machine hits every side alike. The pool refills between.
        await poolReady(bed, warm, w.status.currentVersion!);
        claim.push(await postToQuery(base, warm, `w${i}`));
        // The refill after a claim takes CPU: every side is measured with the pool full again.
        await poolReady(bed, warm, w.status.currentVersion!);
        floor.push(
          await mariadbFloor(
            bed,
            pair,
            path.join(bed.dataDir, 'templates', cold, version),
            meta.adminPassword,
            i,
          ),
        );
        coldPath.push(await postToQuery(base, cold, `c${i}`));
        await removeDatabaseAndWait(bed, `w${i}`, { viaApi: `${base}/db/${warm}/w${i}` });
        await removeDatabaseAndWait(bed, `c${i}`, { viaApi: `${base}/db/${cold}/c${i}` });
      }
      const label = `${pair.runtime}+${pair.storage} ${mib} MiB`;
      raw[label] = { claim, cold: coldPath, floor };
      results.push(summarize({ name: `claim vs floor ${label}`, ours: claim, reference: floor, unit: 'ms' }));
      results.push(
        summarize({ name: `claim vs cold path ${label}`, ours: claim, reference: coldPath, unit: 'ms' }),
      );
      results.push(
        summarize({ name: `cold path vs floor ${label}`, ours: coldPath, reference: floor, unit: 'ms' }),
      );
      console.log(
        `${label}: claim-to-first-query median ${Math.round(median(claim))} ms (target <= 100), p95 ${Math.round(p95(claim))} ms (target <= 200)`,
      );
    }
    await api.close();
  } catch (error) {
    // One pair failing must not lose the other's figures.
    console.error(`${pair.runtime}+${pair.storage} failed: ${(error as Error).stack}`);
    raw[`${pair.runtime}+${pair.storage} error`] = String(error);
  } finally {
    await bed.destroy();
  }
}
printTable(results);
console.log(`results: ${writeResults('pool', { machine: machine(), results, raw })}`);
