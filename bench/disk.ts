/**
 * Disk benchmark (docker + btrfs): N clones of a ~1 GiB template, each after writing ~10 MiB of rows,
 * beside N full copies. Space is what the filesystem reports used (statfs), before and after, with the
 * per-clone exclusive bytes from `btrfs filesystem du` as the profile. Needs `scripts/test-env up`.
 *   npx vite-node bench/disk.ts [--clones 20] [--mib 1024] [--write-mib 10]
 */
import { execFileSync } from 'node:child_process';
import { statfsSync } from 'node:fs';
import path from 'node:path';
import { run } from '../controller/util/exec.js';
import { databaseObject, templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import { sleep } from '../test/support/wait.js';
import { machine, option, round, writeResults } from './lib.js';

const CLONES = Number(option('clones', '20'));
const MIB = Number(option('mib', '1024'));
const WRITE_MIB = Number(option('write-mib', '10'));

const MiB = 2 ** 20;

/** Bytes in use on the filesystem holding `dir`, once btrfs has written and reclaimed what it will. */
async function usedBytes(dir: string): Promise<number> {
  await run('btrfs', ['subvolume', 'sync', dir]);
  await run('btrfs', ['filesystem', 'sync', dir]);
  await sleep(1000);
  const s = statfsSync(dir);
  return (s.blocks - s.bfree) * s.bsize;
}

/** `btrfs filesystem du -s --raw`: total and exclusive bytes of one path. */
function duRaw(p: string): { total: number; exclusive: number } {
  const out = execFileSync('btrfs', ['filesystem', 'du', '-s', '--raw', p]).toString().trim().split('\n');
  const [total, exclusive] = out.at(-1)!.trim().split(/\s+/).map(Number);
  return { total: total!, exclusive: exclusive! };
}

const bed = new TestBed('bench-disk', { config: { importMemoryMiB: 2048, deletionGuardMax: 1000 } });
try {
  await bed.start();
  const rows = Math.round((MIB * MiB) / 290);
  bed.writeDump(
    'big.sql',
    `CREATE TABLE items (id INT PRIMARY KEY, k INT NOT NULL, name VARCHAR(64) NOT NULL, pad CHAR(200) NOT NULL, KEY (k)) ENGINE=InnoDB;
INSERT INTO items SELECT seq, seq % 1000, CONCAT('name-', seq), REPEAT('x', 200) FROM seq_1_to_${rows};
`,
  );
  bed.writeSpec('big.yaml', templateObject('big', { source: { path: 'big.sql' } }));
  const t = await bed.waitForTemplate('big', (s) => s.phase === 'Ready', 'Ready', 1_800_000);
  const templateDir = path.join(bed.dataDir, 'templates', 'big', t.status.currentVersion!);
  const templateBytes = duRaw(templateDir).total;
  console.log(`template datadir: ${Math.round(templateBytes / MiB)} MiB`);

  const before = await usedBytes(bed.dataDir);
  const names = Array.from({ length: CLONES }, (_, i) => `c${i}`);
  for (const n of names) bed.writeSpec(`${n}.yaml`, databaseObject(n, { template: 'big' }));
  for (const n of names) await bed.waitForDatabase(n, 'Ready', 300_000);
  // Each clone writes WRITE_MIB of new rows (1 KiB each), committed, and is then stopped cleanly so
  // what InnoDB holds in memory is on disk too.
  for (const n of names) {
    const connection = await bed.connect(n);
    await connection.query(
      'CREATE TABLE mine (id INT AUTO_INCREMENT PRIMARY KEY, pad CHAR(255) NOT NULL, more VARCHAR(800) NOT NULL)',
    );
    const perBatch = 1000;
    for (let written = 0; written < WRITE_MIB * 1024; written += perBatch) {
      const values = Array.from(
        { length: perBatch },
        () => `('${'p'.repeat(200)}','${'m'.repeat(800)}')`,
      ).join(',');
      await connection.query(`INSERT INTO mine (pad, more) VALUES ${values}`);
    }
    await connection.end();
  }
  for (const n of names) bed.writeSpec(`${n}.yaml`, databaseObject(n, { template: 'big', state: 'Stopped' }));
  for (const n of names) await bed.waitForDatabase(n, 'Stopped', 120_000);
  const after = await usedBytes(bed.dataDir);
  const clonesBytes = after - before;
  const perClone = names.map((n) => duRaw(path.join(bed.dataDir, 'databases', n)).exclusive);
  // The profile: which files of one clone hold its exclusive bytes (what InnoDB wrote where).
  const first = path.join(bed.dataDir, 'databases', names[0]!);
  const files = execFileSync('find', [first, '-type', 'f']).toString().trim().split('\n');
  const profile = files
    .map((f) => ({ file: path.relative(first, f), exclusiveMiB: round(duRaw(f).exclusive / MiB, 1) }))
    .filter((f) => f.exclusiveMiB >= 0.1)
    .sort((a, b) => b.exclusiveMiB - a.exclusiveMiB);
  console.log(`clone ${names[0]}: exclusive bytes by file: ${JSON.stringify(profile)}`);

  const ours = templateBytes + clonesBytes;
  const writes = CLONES * WRITE_MIB * MiB;
  const fullCopies = (CLONES + 1) * templateBytes + writes;
  const ideal = templateBytes + writes;
  const result = {
    name: `disk: ${CLONES} clones of a ${Math.round(templateBytes / MiB)} MiB template, ${WRITE_MIB} MiB written each`,
    templateMiB: round(templateBytes / MiB, 1),
    clonesAddedMiB: round(clonesBytes / MiB, 1),
    oursMiB: round(ours / MiB, 1),
    fullCopiesMiB: round(fullCopies / MiB, 1),
    templatePlusWritesMiB: round(ideal / MiB, 1),
    vsFullCopies: round(ours / fullCopies),
    vsTemplatePlusWrites: round(ours / ideal),
    perCloneExclusiveMiB: perClone.map((b) => round(b / MiB, 1)),
    oneCloneByFile: profile,
    target: '<= 1.1x one template plus the writes',
    met: ours / ideal <= 1.1,
  };
  console.table([
    { what: 'template', MiB: result.templateMiB },
    { what: `added by ${CLONES} clones`, MiB: result.clonesAddedMiB },
    { what: 'ours: template + clones', MiB: result.oursMiB },
    {
      what: `${CLONES} full copies + template + writes`,
      MiB: result.fullCopiesMiB,
      ratio: `ours ${result.vsFullCopies}x`,
    },
    {
      what: 'one template + the writes',
      MiB: result.templatePlusWritesMiB,
      ratio: `ours ${result.vsTemplatePlusWrites}x (target 1.1x: ${result.met ? 'met' : 'MISSED'})`,
    },
  ]);
  console.log(`results: ${writeResults('disk', { machine: machine(), results: [result] })}`);
} finally {
  await bed.destroy();
}
