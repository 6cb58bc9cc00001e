/**
 * Provisioning benchmark: spec-to-first-query (and API-POST-to-first-query) for a ~10 MiB and a ~1 GiB
 * template, beside the raw floor measured in the same run (clone by hand + server start + first query).
 * Both runtime/storage pairs. Needs the environment of `scripts/test-env up`.
 *   npx vite-node bench/provisioning.ts [--reps 10] [--pairs docker,process] [--sizes 10,1024]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createApi } from '../controller/api/api-server.js';
import { silentLogger } from '../controller/log.js';
import type { VersionMeta } from '../controller/objects/index.js';
import { run } from '../controller/util/exec.js';
import { databaseObject, templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import {
  type Comparison,
  generatedMariadbDump,
  machine,
  mariadbFloor,
  option,
  pairsOption,
  postToQuery,
  printTable,
  queryWhenReady,
  removeDatabaseAndWait,
  sizesOption,
  summarize,
  writeResults,
} from './lib.js';

const REPS = Number(option('reps', '10'));
const PAIRS = pairsOption();
const SIZES_MIB = sizesOption('10,1024');

/** Ours: write a Database spec file, wait for its status to give credentials, connect and query. */
async function specToQuery(bed: TestBed, template: string, name: string): Promise<number> {
  const started = performance.now();
  bed.writeSpec(`${name}.yaml`, databaseObject(name, { template }));
  const store = bed.running!.store;
  await queryWhenReady('mariadb', name, () => store.get(`Database/${name}`), 120_000, 2);
  return performance.now() - started;
}

const results: ReturnType<typeof summarize>[] = [];
const raw: Record<string, unknown> = {};
for (const pair of PAIRS) {
  const bed = new TestBed(`bench-${pair.runtime}`, {
    pair,
    config: { importMemoryMiB: 2048, deletionGuardMax: 1000 },
    logLevel: 'info', // the product's default: debug lines are a diagnostic mode, not the measured one
  });
  try {
    const running = await bed.start();
    const api = createApi(running, silentLogger);
    const base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    for (const mib of SIZES_MIB) {
      const template = `t${mib}`;
      bed.writeDump(`${template}.sql`, generatedMariadbDump(mib));
      bed.writeSpec(`${template}.yaml`, templateObject(template, { source: { path: `${template}.sql` } }));
      const t = await bed.waitForTemplate(template, (s) => s.phase === 'Ready', 'Ready', 1_800_000);
      const version = t.status.currentVersion!;
      const meta = JSON.parse(
        readFileSync(path.join(bed.dataDir, 'templates', template, `${version}.json`), 'utf8'),
      ) as VersionMeta;
      const size = (await run('du', ['-sb', path.join(bed.dataDir, 'templates', template, version)])).split(
        '\t',
      )[0];
      console.log(
        `${pair.runtime}+${pair.storage}: template ${template} datadir ${Math.round(Number(size) / 2 ** 20)} MiB, imported in ${t.status.lastImport?.durationSeconds}s`,
      );
      const spec: number[] = [];
      const post: number[] = [];
      const floor: number[] = [];
      for (let i = 0; i < REPS; i++) {
        // Interleaved, so that load on the shared machine hits both sides alike.
        floor.push(
          await mariadbFloor(
            bed,
            pair,
            path.join(bed.dataDir, 'templates', template, version),
            meta.adminPassword,
            i,
          ),
        );
        spec.push(await specToQuery(bed, template, `s${i}`));
        await removeDatabaseAndWait(bed, `s${i}`);
        post.push(await postToQuery(base, template, `p${i}`));
        await removeDatabaseAndWait(bed, `p${i}`, { viaApi: `${base}/db/${template}/p${i}` });
      }
      const label = `${pair.runtime}+${pair.storage} ${mib} MiB`;
      raw[label] = { spec, post, floor, datadirBytes: Number(size) };
      const base1: Omit<Comparison, 'name' | 'ours'> = { reference: floor, unit: 'ms', target: 1.3 };
      results.push(summarize({ ...base1, name: `spec-to-query ${label}`, ours: spec }));
      results.push(summarize({ ...base1, name: `POST-to-query ${label}`, ours: post }));
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
console.log(`results: ${writeResults('provisioning', { machine: machine(), results, raw })}`);
