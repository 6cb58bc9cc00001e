/**
 * Schema-only benchmark: the whole import of a mariadb-dump file (a template of it) vs a schema-only
 * template of the same dump (spec.import.schemaOnly), alternating, on docker + btrfs. Needs
 * `scripts/test-env up`.
 *   npx vite-node bench/schema-only.ts [--mib 1024] [--reps 3]
 */
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import { writeDump } from './dump-generator.js';
import { machine, median, option, round, settleFilesystem, writeResults } from './lib.js';

const MIB = Number(option('mib', '1024'));
const REPS = Number(option('reps', '3'));

const bed = new TestBed('bench-schema-only', { config: { importMemoryMiB: 2048 } });
const full: number[] = [];
const schema: number[] = [];
try {
  const dump = path.join(bed.dumpsDir, 'big.sql');
  if (!existsSync(dump)) await writeDump(dump, MIB);
  const bytes = statSync(dump).size;
  console.log(`dump: ${Math.round(bytes / 2 ** 20)} MiB`);
  await bed.start();
  // The once-per-image initialised datadir, made by a tiny first template (reported by bench:import).
  bed.writeDump('warm.sql', 'CREATE TABLE t (id INT PRIMARY KEY);\n');
  bed.writeSpec('warm.yaml', templateObject('warm', { source: { path: 'warm.sql' } }));
  await bed.waitForTemplate('warm', (s) => s.phase === 'Ready', 'warm-up import', 600_000);
  for (let i = 0; i < REPS; i++) {
    for (const [name, spec, into] of [
      [`full${i}`, {}, full],
      [`schema${i}`, { import: { schemaOnly: true } }, schema],
    ] as const) {
      await settleFilesystem(bed.dataDir);
      bed.writeSpec(`${name}.yaml`, templateObject(name, { source: { path: 'big.sql' }, ...spec }));
      const t = await bed.waitForTemplate(name, (s) => s.phase === 'Ready', 'Ready', 3_600_000);
      const seconds = t.status.lastImport?.durationSeconds ?? Number.NaN;
      into.push(seconds);
      console.log(`rep ${i + 1}: ${name} ${round(seconds, 2)} s`);
      bed.removeSpec(`${name}.yaml`);
    }
  }
  const result = {
    machine: machine(),
    dumpMiB: Math.round(bytes / 2 ** 20),
    fullSeconds: full,
    schemaOnlySeconds: schema,
    medianFull: median(full),
    medianSchemaOnly: median(schema),
    fraction: round(median(schema) / median(full), 3),
  };
  console.table([
    {
      dump: `${result.dumpMiB} MiB`,
      'full import (median s)': round(result.medianFull, 2),
      'schema only (median s)': round(result.medianSchemaOnly, 2),
      fraction: result.fraction,
    },
  ]);
  console.log(`results: ${writeResults('schema-only', result)}`);
} finally {
  await bed.destroy();
}
