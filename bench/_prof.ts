import { execSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
const bed = new TestBed('bench-prof', { config: { importMemoryMiB: 2048, ...(process.env.AFTER ? { importLoadDataAfterBytes: Number(process.env.AFTER) } : {}) } });
try {
  await bed.start();
  copyFileSync('/tmp/exp/dump.sql', path.join(bed.dumpsDir, 'big.sql'));
  const cpu = () => Object.fromEntries(execSync("ps -eo comm,time --no-headers").toString().trim().split('\n').map((l) => l.trim().split(/\s+/)).map(([c, t]) => [c, t]).reduce((m: Map<string, number>, [c, t]) => { const [h, mi, s] = t!.split(':').map(Number); m.set(c!, (m.get(c!) ?? 0) + h! * 3600 + mi! * 60 + s!); return m; }, new Map()));
  const before = cpu();
  bed.writeSpec('big.yaml', templateObject('big', { source: { path: 'big.sql' } }));
  const t = await bed.waitForTemplate('big', (s) => s.phase === 'Ready' && s.lastImport?.result === 'Succeeded', 'imported', 600_000);
  const after = cpu();
  console.log(JSON.stringify(t.status.lastImport?.phases), t.status.lastImport?.durationSeconds);
  for (const [k, v] of Object.entries(after)) { const d = v - (before[k] ?? 0); if (d > 0) console.log('cpu', k, d); }
  console.log(readFileSync(path.join(bed.dir, 'controller.log'), 'utf8').split('\n').filter((l) => /LOAD DATA|parallel/.test(l)).join('\n'));
} finally { await bed.destroy(); }
