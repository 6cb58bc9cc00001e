/**
 * Scale benchmarks (docker + btrfs), with the controller as its own process so its CPU and memory are
 * its own:
 *  - burst: N databases declared at once (N files, one commit) until every one answers a query, beside
 *    the raw floor for the same N (snapshot + docker run + first query by hand, same concurrency);
 *    controller CPU seconds and peak RSS during the burst.
 *  - idle: M specs that need no server (half Stopped, half already expired): controller RSS and CPU
 *    per resync pass, beside the same controller holding only the template.
 * Needs `scripts/test-env up`.
 *   npx vite-node bench/scale.ts [--burst 50] [--idle 1000] [--window 60] [--skip burst|idle]
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import PQueue from 'p-queue';
import type { VersionMeta } from '../controller/objects/index.js';
import { run } from '../controller/util/exec.js';
import { shopDump } from '../test/support/dumps.js';
import { databaseObject, specFile, templateObject } from '../test/support/specs.js';
import { TestBed } from '../test/support/testbed.js';
import { sleep, waitFor } from '../test/support/wait.js';
import {
  firstQuery,
  machine,
  option,
  queryWhenReady,
  round,
  snapshotAndRunMariadb,
  writeResults,
} from './lib.js';
import { cpuSeconds, peakRssMiB, resetPeakRss, rssMiB } from './process-stats.js';

const BURST = Number(option('burst', '50'));
const IDLE = Number(option('idle', '1000'));
const WINDOW_S = Number(option('window', '60'));
const RESYNC_S = 10;
const SKIP = option('skip', '');
const CONCURRENCY = 8; // the controller's default --reconcile-concurrency

/** Declares `names` in one go: the files are written aside and renamed in, like a git checkout. */
function commit(bed: TestBed, files: Map<string, string>): void {
  const staging = path.join(bed.dir, 'staging');
  mkdirSync(staging, { recursive: true });
  for (const [file, text] of files) writeFileSync(path.join(staging, file), text);
  for (const file of files.keys()) renameSync(path.join(staging, file), path.join(bed.specsDir, file));
}

async function burst(bed: TestBed, pid: number) {
  const meta = currentMeta(bed, 'shop');
  // Ours: N spec files at once; done when every database answers with its own credentials.
  const names = Array.from({ length: BURST }, (_, i) => `b${i}`);
  const cpuBefore = cpuSeconds(pid);
  resetPeakRss(pid);
  const started = performance.now();
  commit(bed, new Map(names.map((n) => [`${n}.yaml`, specFile(databaseObject(n))])));
  await Promise.all(names.map((n) => queryWhenReady('mariadb', n, () => bed.database(n), 600_000, 20)));
  const oursSeconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(pid) - cpuBefore;
  const peak = peakRssMiB(pid);
  console.log(
    `burst ours: ${BURST} ready in ${oursSeconds.toFixed(1)} s, controller CPU ${cpu.toFixed(1)} s, peak RSS ${peak.toFixed(0)} MiB`,
  );
  for (const n of names) bed.removeSpec(`${n}.yaml`);
  await waitFor(
    'burst removed',
    async () =>
      (await bed.containers()).filter((c) => c.Labels['myaas.dev/name']?.startsWith('b')).length === 0,
    600_000,
    500,
  );

  // Floor: the same N clones and servers by hand, CONCURRENCY at a time.
  const source = path.join(bed.dataDir, 'templates', 'shop', meta.version);
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const made: { clone: string; id: string }[] = [];
  const floorStarted = performance.now();
  await Promise.all(
    names.map((n) =>
      queue.add(async () => {
        const clone = path.join(bed.dir, `floor-${n}`);
        const { container, port } = await snapshotAndRunMariadb(bed.docker, bed.config.image, source, clone);
        made.push({ clone, id: container.id });
        await firstQuery('mariadb', port, 'root', meta.adminPassword);
      }),
    ),
  );
  const floorSeconds = (performance.now() - floorStarted) / 1000;
  console.log(`burst floor: ${BURST} by hand in ${floorSeconds.toFixed(1)} s`);
  for (const m of made) {
    await bed.docker.getContainer(m.id).remove({ force: true });
    await run('btrfs', ['subvolume', 'delete', m.clone]);
  }
  return {
    name: `burst: ${BURST} databases in one commit until all answer`,
    oursSeconds: round(oursSeconds),
    floorSeconds: round(floorSeconds),
    ratio: round(oursSeconds / floorSeconds),
    controllerCpuSeconds: round(cpu),
    controllerPeakRssMiB: round(peak, 0),
    target: 'all ready within 60 s',
    met: oursSeconds <= 60,
  };
}

/** CPU per resync pass and RSS over a window of idle time. */
async function idleWindow(pid: number) {
  await sleep(2000);
  const cpuBefore = cpuSeconds(pid);
  resetPeakRss(pid);
  const samples: number[] = [];
  const end = Date.now() + WINDOW_S * 1000;
  while (Date.now() < end) {
    samples.push(rssMiB(pid));
    await sleep(1000);
  }
  const cpu = cpuSeconds(pid) - cpuBefore;
  const passes = WINDOW_S / RESYNC_S;
  return {
    rssMiB: round(Math.max(...samples), 0),
    peakRssMiB: round(peakRssMiB(pid), 0),
    cpuPerPassSeconds: round(cpu / passes),
    cpuSeconds: round(cpu),
  };
}

async function idle(bed: TestBed, pid: number) {
  const baseline = await idleWindow(pid);
  console.log(`idle baseline (template only): ${JSON.stringify(baseline)}`);
  const half = Math.floor(IDLE / 2);
  const files = new Map<string, string>();
  const past = new Date(Date.now() - 3600_000).toISOString();
  for (let i = 0; i < IDLE; i++) {
    const name = `i${i}`;
    files.set(
      `${name}.yaml`,
      specFile(
        i < half ? databaseObject(name, { state: 'Stopped' }) : databaseObject(name, { expiresAt: past }),
      ),
    );
  }
  const started = performance.now();
  commit(bed, files);
  await waitFor(
    `${IDLE} databases settled`,
    () => {
      for (let i = 0; i < IDLE; i++) {
        const phase = bed.database(`i${i}`)?.status.phase;
        if (phase !== (i < half ? 'Stopped' : 'Expired')) return false;
      }
      return true;
    },
    1_800_000,
    1000,
  );
  const settleSeconds = (performance.now() - started) / 1000;
  console.log(`idle: ${IDLE} specs settled in ${settleSeconds.toFixed(1)} s`);
  const loaded = await idleWindow(pid);
  console.log(`idle with ${IDLE} specs: ${JSON.stringify(loaded)}`);
  return {
    name: `idle: ${IDLE} specs (${half} Stopped, ${IDLE - half} Expired)`,
    settleSeconds: round(settleSeconds),
    resyncSeconds: RESYNC_S,
    ours: loaded,
    baseline,
    rssRatio: round(loaded.rssMiB / baseline.rssMiB),
    target: 'RSS <= 150 MB',
    met: loaded.rssMiB * 1.048576 <= 150,
  };
}

function currentMeta(bed: TestBed, template: string): VersionMeta {
  const version = bed.template(template)!.status.currentVersion!;
  return JSON.parse(
    readFileSync(path.join(bed.dataDir, 'templates', template, `${version}.json`), 'utf8'),
  ) as VersionMeta;
}

const results: unknown[] = [];
for (const which of ['burst', 'idle'] as const) {
  if (SKIP.split(',').includes(which)) continue;
  const bed = new TestBed(`bench-${which}`, {
    // As deployed: info-level logs (debug logs every reconcile).
    logLevel: 'info',
    config: { resyncSeconds: RESYNC_S, deletionGuardMax: 100_000 },
  });
  try {
    bed.writeDump('shop.sql', shopDump(1000, 'v1'));
    bed.writeSpec('shop.yaml', templateObject('shop'));
    const child = await bed.spawn();
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 600_000);
    results.push(which === 'burst' ? await burst(bed, child.pid!) : await idle(bed, child.pid!));
  } catch (error) {
    console.error(`${which} failed: ${(error as Error).stack}`);
    results.push({ name: which, error: String(error) });
  } finally {
    await bed.destroy();
  }
}
// One table row per figure; the JSON file has everything.
console.table(
  results.map((r) => {
    const x = r as Record<string, unknown>;
    return x.error
      ? { benchmark: x.name, result: `failed: ${x.error}` }
      : x.oursSeconds !== undefined
        ? {
            benchmark: x.name,
            ours: `${x.oursSeconds} s`,
            reference: `${x.floorSeconds} s by hand`,
            ratio: `${x.ratio}x`,
            controller: `${x.controllerCpuSeconds} CPU s, peak ${x.controllerPeakRssMiB} MiB`,
            target: `${x.target}: ${x.met ? 'met' : 'MISSED'}`,
          }
        : {
            benchmark: x.name,
            ours: `RSS ${(x.ours as { rssMiB: number }).rssMiB} MiB, ${(x.ours as { cpuPerPassSeconds: number }).cpuPerPassSeconds} CPU s/pass`,
            reference: `template only: RSS ${(x.baseline as { rssMiB: number }).rssMiB} MiB, ${(x.baseline as { cpuPerPassSeconds: number }).cpuPerPassSeconds} CPU s/pass`,
            ratio: `${x.rssRatio}x RSS`,
            controller: `settled in ${x.settleSeconds} s`,
            target: `${x.target}: ${x.met ? 'met' : 'MISSED'}`,
          };
  }),
);
console.log(`results: ${writeResults('scale', { machine: machine(), results })}`);
