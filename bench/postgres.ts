/**
 * PostgreSQL benchmarks (docker + btrfs), each beside its reference in the same run:
 *  - import: this project's import of a ~200 MiB plain pg_dump-format dump (COPY blocks, indexes after
 *    the data) vs `psql -f dump.sql` into a default-configured server of the same image;
 *  - provisioning: spec-to-first-query for a ~1 GiB template vs the raw floor (btrfs snapshot +
 *    `docker run` of the same image + first query, by hand).
 * Needs `scripts/test-env up`.
 *   npx vite-node bench/postgres.ts [--mib 200] [--reps 3] [--template-mib 1024] [--provision-reps 10]
 */
import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, statSync, utimesSync } from 'node:fs';
import path from 'node:path';
import { engineFor } from '../controller/engine/engines.js';
import { silentLogger } from '../controller/log.js';
import type { VersionMeta } from '../controller/objects/index.js';
import { DockerRuntime } from '../controller/runtime/docker-runtime.js';
import { run } from '../controller/util/exec.js';
import { databaseObject, templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import {
  firstQuery,
  machine,
  option,
  printTable,
  queryWhenReady,
  removeDatabaseAndWait,
  runServer,
  settleFilesystem,
  summarize,
  writeResults,
} from './lib.js';
import { writePostgresDump } from './pg-dump-generator.js';

const MIB = Number(option('mib', '200'));
const REPS = Number(option('reps', '3'));
const TEMPLATE_MIB = Number(option('template-mib', '1024'));
const PROVISION_REPS = Number(option('provision-reps', '10'));
const NAIVE_ON = option('naive-on', 'docker');
const engine = engineFor('postgres');
/** `--provision-reps 0`: the import part only. */
class SkipRest extends Error {}

const bed = new TestBed('bench-pg', { config: { importMemoryMiB: 2048, deletionGuardMax: 1000 } });
const results: ReturnType<typeof summarize>[] = [];
const raw: Record<string, unknown> = {};
try {
  await bed.start();
  const image = bed.config.postgresImage;
  const runtime = new DockerRuntime({
    docker: bed.docker,
    controllerId: 'benchpgnaive',
    containerUser: '999:999',
    log: silentLogger,
  });

  // Import.
  const dump = path.join(bed.dumpsDir, 'big.sql');
  if (!existsSync(dump)) await writePostgresDump(dump, MIB);
  const bytes = statSync(dump).size;
  console.log(`dump: ${Math.round(bytes / 2 ** 20)} MiB`);
  const ours: number[] = [];
  const naive: number[] = [];
  for (let i = 0; i < REPS; i++) {
    await settleFilesystem(bed.dataDir);
    // --naive-on btrfs: the naive server's datadir on the same btrfs as ours (a nodatacow directory),
    // to tell the settings' effect from the filesystem's.
    const naiveDir = path.join(bed.dir, `naive-${i}`);
    if (NAIVE_ON === 'btrfs') {
      mkdirSync(naiveDir);
      await run('chattr', ['+C', naiveDir]);
      await run('chown', ['999:999', naiveDir]);
    }
    const { container, port } = await runServer(bed.docker, {
      image,
      containerPort: engine.image.port,
      env: ['POSTGRES_PASSWORD=bench', 'POSTGRES_DB=default'],
      ...(NAIVE_ON === 'btrfs' ? { binds: [`${naiveDir}:${engine.image.dataDir}`] } : {}),
    });
    await firstQuery('postgres', port, 'postgres', 'bench', { database: 'default' });
    const started = performance.now();
    const session = await runtime.programs.exec(
      container.id,
      [
        'psql',
        '-h',
        '127.0.0.1',
        '-U',
        'postgres',
        '-d',
        'default',
        '-v',
        'ON_ERROR_STOP=1',
        '-q',
        '-f',
        '-',
      ],
      { PGPASSWORD: 'bench' },
    );
    createReadStream(dump).pipe(session.stdin);
    const result = await session.result;
    naive.push((performance.now() - started) / 1000);
    await container.remove({ force: true, v: true });
    rmSync(naiveDir, { recursive: true, force: true });
    if (result.exitCode !== 0) throw new Error(`naive import failed: ${result.output}`);

    const before = bed.template('big')?.status.currentVersion;
    if (i === 0)
      bed.writeSpec('big.yaml', templateObject('big', { engine: 'postgres', source: { path: 'big.sql' } }));
    else utimesSync(path.join(bed.specsDir, 'big.yaml'), new Date(), new Date());
    const t = await bed.waitForTemplate(
      'big',
      (s) => s.phase === 'Ready' && s.currentVersion !== before && s.lastImport?.result === 'Succeeded',
      'imported',
      1_800_000,
    );
    ours.push(t.status.lastImport!.durationSeconds!);
    console.log(
      `import rep ${i + 1}: naive ${naive.at(-1)!.toFixed(1)}s, ours ${ours.at(-1)!.toFixed(1)}s ${JSON.stringify(t.status.lastImport?.phases ?? {})}`,
    );
  }
  raw.import = { ours, naive, dumpBytes: bytes };
  results.push(
    summarize({
      name: `postgres import ${Math.round(bytes / 2 ** 20)} MiB dump (naive datadir on ${NAIVE_ON === 'btrfs' ? 'the same btrfs' : "docker's storage"})`,
      ours,
      reference: naive,
      unit: 's',
      target: 1.5,
      atLeast: true,
    }),
  );
  bed.removeSpec('big.yaml');

  // Provisioning.
  if (PROVISION_REPS === 0) throw new SkipRest();
  const rows = Math.round((TEMPLATE_MIB * 1024 * 1024) / 290);
  bed.writeDump(
    'gen.sql',
    `CREATE TABLE items (id integer PRIMARY KEY, k integer NOT NULL, name varchar(64) NOT NULL, pad char(200) NOT NULL);
INSERT INTO items SELECT g, g % 1000, 'name-' || g, repeat('x', 200) FROM generate_series(1, ${rows}) g;
CREATE INDEX items_k ON items (k);
`,
  );
  bed.writeSpec('gen.yaml', templateObject('gen', { engine: 'postgres', source: { path: 'gen.sql' } }));
  const t = await bed.waitForTemplate('gen', (s) => s.phase === 'Ready', 'Ready', 1_800_000);
  const versionDir = path.join(bed.dataDir, 'templates', 'gen', t.status.currentVersion!);
  const meta = JSON.parse(readFileSync(`${versionDir}.json`, 'utf8')) as VersionMeta;
  const size = Number((await run('du', ['-sb', versionDir])).split('\t')[0]);
  console.log(
    `template datadir ${Math.round(size / 2 ** 20)} MiB, imported in ${t.status.lastImport?.durationSeconds}s`,
  );
  const spec: number[] = [];
  const floor: number[] = [];
  for (let i = 0; i < PROVISION_REPS; i++) {
    // Floor: snapshot + docker run + first query, by hand.
    const clone = path.join(bed.dir, `floor-${i}`);
    const started = performance.now();
    await run('btrfs', ['subvolume', 'snapshot', versionDir, clone]);
    const { container, port } = await runServer(bed.docker, {
      image,
      containerPort: engine.image.port,
      user: '999:999',
      stopSignal: engine.image.stopSignal,
      binds: [`${clone}:${engine.image.dataDir}`],
    });
    await firstQuery('postgres', port, 'postgres', meta.adminPassword, { database: 'default' });
    floor.push(performance.now() - started);
    await container.remove({ force: true });
    await run('btrfs', ['subvolume', 'delete', clone]);

    // Ours: a Database spec file until the first query with its own credentials.
    const name = `s${i}`;
    const began = performance.now();
    bed.writeSpec(`${name}.yaml`, databaseObject(name, { template: 'gen' }));
    const store = bed.running!.store;
    await queryWhenReady('postgres', name, () => store.get(`Database/${name}`), 120_000, 2);
    spec.push(performance.now() - began);
    await removeDatabaseAndWait(bed, name);
  }
  raw.provisioning = { spec, floor, datadirBytes: size };
  results.push(
    summarize({
      name: `postgres spec-to-query docker+btrfs ${Math.round(size / 2 ** 20)} MiB datadir`,
      ours: spec,
      reference: floor,
      unit: 'ms',
      target: 1.3,
    }),
  );
} catch (error) {
  if (!(error instanceof SkipRest)) throw error;
} finally {
  await bed.destroy();
}
printTable(results);
console.log(`results: ${writeResults('postgres', { machine: machine(), results, raw })}`);
