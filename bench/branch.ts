/**
 * Branch benchmark (issue 16): branch-to-first-query — a Database spec naming a running database as
 * its source, until the branch answers `SELECT 1` as its own user — for a ~10 MiB and a ~1 GiB
 * source, beside the raw floor measured in the same run, interleaved: a copy of the live source's
 * datadir by hand (btrfs snapshot, or cp on copy storage) and the same server started on it by hand,
 * first query. Ours does more than the floor: it holds the source's writes (MariaDB FLUSH TABLES WITH
 * READ LOCK) around the copy and keeps a read-only branch point, then clones that. Both pairs.
 * Needs the environment of `scripts/test-env up`.
 *   npx vite-node bench/branch.ts [--reps 7] [--pairs docker,process] [--sizes 10,1024]
 */
import path from 'node:path';
import type { DatabaseRecord, DatabaseStatus } from '../controller/objects/index.js';
import { run } from '../controller/util/exec.js';
import { databaseObject, templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import {
  type Comparison,
  generatedMariadbDump,
  machine,
  mariadbFloor,
  median,
  option,
  pairsOption,
  printTable,
  queryWhenReady,
  removeDatabaseAndWait,
  settleFilesystem,
  sizesOption,
  summarize,
  writeResults,
} from './lib.js';

const REPS = Number(option('reps', '7'));
const PAIRS = pairsOption();
const SIZES_MIB = sizesOption('10,1024');

/** Ours: a Database spec whose source is the running database, until its own user's first query. */
async function branchToQuery(bed: TestBed, source: string, name: string) {
  const started = performance.now();
  bed.writeSpec(`${name}.yaml`, databaseObject(name, { template: undefined, source: { database: source } }));
  const store = bed.running!.store;
  await queryWhenReady('mariadb', name, () => store.get(`Database/${name}`), 600_000, 2);
  const elapsed = performance.now() - started;
  const lineage = (store.get(`Database/${name}`)?.status as DatabaseStatus).branchedFrom!;
  return { elapsed, lockMs: lineage.lockMs, pausedMs: lineage.pausedMs };
}

const results: ReturnType<typeof summarize>[] = [];
const raw: Record<string, unknown> = {};
for (const pair of PAIRS) {
  const bed = new TestBed(`bench-branch-${pair.runtime}`, {
    pair,
    // Retention 0: removed branches leave no copies behind to fill the disk between repetitions.
    config: { importMemoryMiB: 2048, deletionGuardMax: 1000, trashRetentionSeconds: 0 },
    logLevel: 'info',
  });
  try {
    await bed.start();
    for (const mib of SIZES_MIB) {
      const template = `t${mib}`;
      const source = `src${mib}`;
      bed.writeDump(`${template}.sql`, generatedMariadbDump(mib));
      bed.writeSpec(`${template}.yaml`, templateObject(template, { source: { path: `${template}.sql` } }));
      await bed.waitForTemplate(template, (s) => s.phase === 'Ready', 'Ready', 1_800_000);
      bed.writeSpec(`${source}.yaml`, databaseObject(source, { template }));
      await queryWhenReady(
        'mariadb',
        source,
        () => bed.running!.store.get(`Database/${source}`),
        600_000,
        20,
      );
      // The source's own admin password (each database gets one at its first start): the floor's first query.
      const rootPassword = (bed.running!.store.get(`Database/${source}`)?.record as DatabaseRecord)
        .adminPassword;
      const size = (await run('du', ['-sb', path.join(bed.dataDir, 'databases', source)])).split('\t')[0];
      console.log(
        `${pair.runtime}+${pair.storage}: source ${source} datadir ${Math.round(Number(size) / 2 ** 20)} MiB`,
      );
      const ours: number[] = [];
      const floor: number[] = [];
      const held: { lockMs: number; pausedMs: number }[] = [];
      for (let i = 0; i < REPS; i++) {
        // Interleaved, each on a settled filesystem, so that load on the shared machine hits both alike.
        await settleFilesystem(bed.dataDir);
        floor.push(
          await mariadbFloor(bed, pair, path.join(bed.dataDir, 'databases', source), rootPassword, i),
        );
        await settleFilesystem(bed.dataDir);
        const b = await branchToQuery(bed, source, `b${mib}-${i}`);
        ours.push(b.elapsed);
        held.push({ lockMs: b.lockMs, pausedMs: b.pausedMs });
        await removeDatabaseAndWait(bed, `b${mib}-${i}`, { timeoutMs: 120_000 });
      }
      const label = `${pair.runtime}+${pair.storage} ${mib} MiB`;
      raw[label] = { ours, floor, held, datadirBytes: Number(size) };
      const c: Comparison = {
        name: `branch-to-query ${label}`,
        ours,
        reference: floor,
        unit: 'ms',
        target: 1.3,
      };
      results.push(summarize(c));
      const lock = median(held.map((h) => h.lockMs));
      const paused = median(held.map((h) => h.pausedMs));
      console.log(
        `${label}: source writes held (FTWRL) median ${lock} ms, server paused median ${paused} ms`,
      );
      bed.removeSpec(`${source}.yaml`);
    }
  } catch (error) {
    // One pair failing must not lose the other's figures.
    console.error(`${pair.runtime}+${pair.storage} failed: ${(error as Error).stack}`);
    raw[`${pair.runtime}+${pair.storage} error`] = String(error);
  } finally {
    await bed.destroy();
  }
}
printTable(results);
console.log(`results: ${writeResults('branch', { machine: machine(), results, raw })}`);
