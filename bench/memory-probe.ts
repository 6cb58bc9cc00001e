/**
 * Where the controller's memory goes with N objects (docker+btrfs, `--resync 10`): N Database specs
 * declared in one commit (20 Running, the rest half Stopped with clones, half Expired), then RSS every
 * 5 s and CPU per pass over 40 s, then SIGUSR2 to the controller, which `bench/memory-hook.cjs` answers
 * with /tmp/memusage-<pid>.txt (process.memoryUsage, V8 heap spaces, RSS per mapping) and, with
 * HEAP_SNAPSHOT=1, a heap snapshot in /tmp. HEAP_FLAGS="--flag=value ..." sets V8 flags in the
 * controller at start. Needs `scripts/test-env up`.
 *   N=10000 NODE_OPTIONS="--require $PWD/bench/memory-hook.cjs" npx vite-node bench/memory-probe.ts
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { shopDump } from '../test/support/dumps.js';
import { databaseObject, specFile, templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import { sleep, waitFor } from '../test/support/wait.js';
import { cpuSeconds, rssMiB } from './process-stats.js';

const N = Number(process.env.N ?? 10000);
const RUNNING = 20;
const bed = new TestBed('memory-probe', {
  logLevel: 'info',
  config: { resyncSeconds: 10, deletionGuardMax: 100_000, deletionGuardLimit: 100_000 },
});
try {
  bed.writeDump('shop.sql', shopDump(1000, 'v1'));
  bed.writeSpec('shop.yaml', templateObject('shop'));
  const child = await bed.spawn();
  await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 600_000);
  const past = new Date(Date.now() - 3600_000).toISOString();
  const staging = path.join(bed.dir, 'staging');
  mkdirSync(staging, { recursive: true });
  const pending = new Map<string, string>();
  for (let i = 0; i < N; i++) {
    const name = `i${i}`;
    const [phase, object] =
      i < RUNNING
        ? ['Ready', databaseObject(name)]
        : (i - RUNNING) % 2 === 0
          ? ['Stopped', databaseObject(name, { state: 'Stopped' })]
          : ['Expired', databaseObject(name, { expiresAt: past })];
    writeFileSync(path.join(staging, `${name}.yaml`), specFile(object));
    pending.set(name, phase);
  }
  const started = Date.now();
  for (const name of pending.keys())
    renameSync(path.join(staging, `${name}.yaml`), path.join(bed.specsDir, `${name}.yaml`));
  await waitFor(
    'settled',
    () => {
      for (const [name, phase] of pending)
        if (bed.database(name)?.status.phase === phase) pending.delete(name);
      return pending.size === 0;
    },
    1_200_000,
    1000,
  );
  console.log(`${N} settled in ${(Date.now() - started) / 1000} s`);
  await sleep(2000);
  const cpuBefore = cpuSeconds(child.pid!);
  for (let i = 0; i < 8; i++) {
    await sleep(5000);
    console.log(`RSS ${rssMiB(child.pid!).toFixed(0)} MiB`);
  }
  console.log(`CPU per pass ${((cpuSeconds(child.pid!) - cpuBefore) / 4).toFixed(3)} s`);
  process.kill(child.pid!, 'SIGUSR2');
  await sleep(process.env.HEAP_SNAPSHOT ? 30_000 : 2000);
  console.log(`details: /tmp/memusage-${child.pid}.txt`);
} finally {
  await bed.destroy();
}
