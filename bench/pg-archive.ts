/**
 * PostgreSQL custom-format archive imports (docker + btrfs): the same archive imported by a controller
 * with --import-jobs 2 (pg_restore --jobs reading the file) and by one with --import-jobs 1 (streamed
 * into one pg_restore --single-transaction), alternating, in one run. Two archives: one where a single
 * big table dominates, and one with four tables of a size (what parallel jobs can spread).
 * Needs `scripts/test-env up`.
 *   npx vite-node bench/pg-archive.ts [--mib 160] [--reps 3]
 */
import { copyFileSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { dumpArchive } from '../test/support/pg-dump.js';
import { databaseObject, templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import { machine, option, printTable, settleFilesystem, summarize, writeResults } from './lib.js';
import { writePostgresDump } from './pg-dump-generator.js';

const MIB = Number(option('mib', '160'));
const REPS = Number(option('reps', '3'));

const config = { importMemoryMiB: 2048, deletionGuardMax: 1000 };
const parallel = new TestBed('bench-pga-jobs2', { config: { ...config, importJobs: 2 }, logLevel: 'info' });
const streamed = new TestBed('bench-pga-jobs1', { config: { ...config, importJobs: 1 }, logLevel: 'info' });
const results: ReturnType<typeof summarize>[] = [];
const raw: Record<string, unknown> = {};
try {
  await parallel.start();
  await streamed.start();

  // The archives, made by pg_dump -Fc from a database of the generated plain dump.
  await writePostgresDump(path.join(parallel.dumpsDir, 'plain.sql'), MIB);
  parallel.writeSpec(
    'plain.yaml',
    templateObject('plain', { engine: 'postgres', source: { path: 'plain.sql' } }),
  );
  await parallel.waitForTemplate('plain', (s) => s.phase === 'Ready', 'Ready', 1_800_000);
  parallel.writeSpec('src.yaml', databaseObject('src', { template: 'plain' }));
  await parallel.waitForDatabase('src', 'Ready', 120_000);
  const dumpTo = (file: string) => dumpArchive(parallel, 'src', path.join(parallel.dumpsDir, file));
  dumpTo('one.dump');
  // Four tables of a size: orders split in four, each with its indexes.
  await parallel.query(
    'src',
    `CREATE TABLE o1 (LIKE orders INCLUDING ALL); CREATE TABLE o2 (LIKE orders INCLUDING ALL);
     CREATE TABLE o3 (LIKE orders INCLUDING ALL);
     INSERT INTO o1 SELECT * FROM orders WHERE id % 4 = 1; INSERT INTO o2 SELECT * FROM orders WHERE id % 4 = 2;
     INSERT INTO o3 SELECT * FROM orders WHERE id % 4 = 3; DELETE FROM orders WHERE id % 4 <> 0;`,
  );
  dumpTo('four.dump');
  for (const file of ['one.dump', 'four.dump'])
    copyFileSync(path.join(parallel.dumpsDir, file), path.join(streamed.dumpsDir, file));

  for (const [name, label] of [
    ['one', 'one big table'],
    ['four', 'four tables of a size'],
  ] as const) {
    const bytes = statSync(path.join(parallel.dumpsDir, `${name}.dump`)).size;
    const times = {
      jobs2: [] as number[],
      jobs1: [] as number[],
      load2: [] as number[],
      load1: [] as number[],
    };
    for (let i = 0; i < REPS; i++) {
      for (const [bed, jobs] of [
        [streamed, 1],
        [parallel, 2],
      ] as const) {
        await settleFilesystem(bed.dataDir);
        const before = bed.template(name)?.status.currentVersion;
        if (i === 0)
          bed.writeSpec(
            `${name}.yaml`,
            templateObject(name, { engine: 'postgres', source: { path: `${name}.dump` } }),
          );
        else utimesSync(path.join(bed.specsDir, `${name}.yaml`), new Date(), new Date());
        const t = await bed.waitForTemplate(
          name,
          (s) => s.phase === 'Ready' && s.currentVersion !== before && s.lastImport?.result === 'Succeeded',
          'imported',
          1_800_000,
        );
        if (t.status.lastImport!.jobs !== jobs)
          throw new Error(`expected an import with ${jobs} jobs, got ${t.status.lastImport!.jobs}`);
        times[jobs === 2 ? 'jobs2' : 'jobs1'].push(t.status.lastImport!.durationSeconds!);
        times[jobs === 2 ? 'load2' : 'load1'].push(t.status.lastImport!.phases!.loadSeconds);
      }
      console.log(
        `${label} rep ${i + 1}: jobs 1 ${times.jobs1.at(-1)!.toFixed(1)}s, jobs 2 ${times.jobs2.at(-1)!.toFixed(1)}s`,
      );
    }
    raw[name] = { ...times, archiveBytes: bytes };
    const mib = `${Math.round(bytes / 2 ** 20)} MiB archive`;
    results.push(
      summarize({
        name: `archive import, ${label} (${mib}): --import-jobs 2 vs 1`,
        ours: times.jobs2,
        reference: times.jobs1,
        unit: 's',
      }),
      summarize({
        name: '  its load phase only: jobs 2 vs 1',
        ours: times.load2,
        reference: times.load1,
        unit: 's',
      }),
    );
  }
} finally {
  await parallel.destroy();
  await streamed.destroy();
}
printTable(results);
console.log(`results: ${writeResults('pg-archive', { machine: machine(), results, raw })}`);
