/**
 * Scale benchmarks (docker + btrfs), with the controller as its own process so its CPU and memory are
 * its own:
 *  - burst: N databases declared at once (N files, one commit) until every one answers a query, beside
 *    the raw floor for the same N (snapshot + docker run + first query by hand, same concurrency),
 *    interleaved over --rounds (order alternating); controller CPU seconds and peak RSS during the burst.
 *  - idle: the curve over --idle sizes (e.g. 1000,5000,10000) in one controller, grown from one size
 *    to the next: --running servers Running, the rest half Stopped (with their clones), half already
 *    expired; controller RSS and CPU per resync pass at each size, beside the same controller holding
 *    only the template.
 * Needs `scripts/test-env up`.
 *   npx vite-node bench/scale.ts [--burst 50] [--rounds 3] [--idle 1000,5000,10000] [--running 20]
 *     [--window 60] [--skip burst|idle]
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
  median,
  option,
  p95,
  queryWhenReady,
  round,
  snapshotAndRunMariadb,
  writeResults,
} from './lib.js';
import { cpuSeconds, peakRssMiB, resetPeakRss, rssMiB } from './process-stats.js';

const BURST = Number(option('burst', '50'));
const ROUNDS = Number(option('rounds', '3'));
const IDLE_SIZES = option('idle', '1000')
  .split(',')
  .map(Number)
  .sort((a, b) => a - b);
const RUNNING = Number(option('running', '20'));
const WINDOW_S = Number(option('window', '60'));
/**
 * Seconds the idle curve may take before it stops growing (the rest of the heavy-run slot is the
 * clean-up: thousands of clones to delete). A size that does not settle in time is reported as such.
 */
const IDLE_BUDGET_S = Number(option('budget', '600'));
const benchStarted = Date.now();
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

/** Ours: N spec files at once; done when every database answers with its own credentials. */
async function burstOurs(bed: TestBed, pid: number, round: number) {
  const names = Array.from({ length: BURST }, (_, i) => `b${round}-${i}`);
  const cpuBefore = cpuSeconds(pid);
  resetPeakRss(pid);
  const started = performance.now();
  commit(bed, new Map(names.map((n) => [`${n}.yaml`, specFile(databaseObject(n))])));
  await Promise.all(names.map((n) => queryWhenReady('mariadb', n, () => bed.database(n), 600_000, 20)));
  const seconds = (performance.now() - started) / 1000;
  const cpu = cpuSeconds(pid) - cpuBefore;
  const peak = peakRssMiB(pid);
  console.log(
    `burst ours (round ${round}): ${BURST} ready in ${seconds.toFixed(1)} s, controller CPU ${cpu.toFixed(1)} s, peak RSS ${peak.toFixed(0)} MiB`,
  );
  for (const n of names) bed.removeSpec(`${n}.yaml`);
  await waitFor(
    'burst removed',
    async () =>
      (await bed.containers()).filter((c) => c.Labels['myaas.dev/name']?.startsWith('b')).length === 0,
    600_000,
    500,
  );
  return { seconds, cpu, peak };
}

/** Floor: the same N clones and servers by hand, CONCURRENCY at a time; always removed. */
async function burstFloor(bed: TestBed, meta: VersionMeta, round: number) {
  const source = path.join(bed.dataDir, 'templates', 'shop', meta.version);
  const queue = new PQueue({ concurrency: CONCURRENCY });
  const made: { clone: string; id?: string }[] = [];
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: BURST }, (_, i) =>
        queue.add(async () => {
          const clone = path.join(bed.dir, `floor-${round}-${i}`);
          const entry: { clone: string; id?: string } = { clone };
          made.push(entry);
          const { container, port } = await snapshotAndRunMariadb(
            bed.docker,
            bed.config.image,
            source,
            clone,
          );
          entry.id = container.id;
          await firstQuery('mariadb', port, 'root', meta.adminPassword);
        }),
      ),
    );
    const seconds = (performance.now() - started) / 1000;
    console.log(`burst floor (round ${round}): ${BURST} by hand in ${seconds.toFixed(1)} s`);
    return seconds;
  } finally {
    for (const m of made) {
      if (m.id)
        await bed.docker
          .getContainer(m.id)
          .remove({ force: true })
          .catch(() => undefined);
      await run('btrfs', ['subvolume', 'delete', m.clone]).catch(() => undefined);
    }
  }
}

async function burst(bed: TestBed, pid: number) {
  const meta = currentMeta(bed, 'shop');
  const ours: number[] = [];
  const floor: number[] = [];
  const cpu: number[] = [];
  const peaks: number[] = [];
  // Interleaved, the order alternating: neither side always runs on a fresher machine.
  for (let round = 0; round < ROUNDS; round++) {
    const oursFirst = round % 2 === 0;
    if (!oursFirst) floor.push(await burstFloor(bed, meta, round));
    const o = await burstOurs(bed, pid, round);
    ours.push(o.seconds);
    cpu.push(o.cpu);
    peaks.push(o.peak);
    if (oursFirst) floor.push(await burstFloor(bed, meta, round));
  }
  const ratio = median(ours) / median(floor);
  return {
    name: `burst: ${BURST} databases in one commit until all answer (${ROUNDS} rounds, interleaved)`,
    oursSeconds: round(median(ours)),
    oursP95: round(p95(ours)),
    floorSeconds: round(median(floor)),
    floorP95: round(p95(floor)),
    ratio: round(ratio),
    rounds: { ours: ours.map((x) => round(x)), floor: floor.map((x) => round(x)) },
    controllerCpuSeconds: round(median(cpu)),
    controllerPeakRssMiB: round(Math.max(...peaks), 0),
    target: '<= 1.1x by hand',
    met: ratio <= 1.1,
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

/** Spec `i`: the first RUNNING are Running, then Stopped and Expired by turns. */
function idleObject(i: number, past: string) {
  const name = `i${i}`;
  if (i < RUNNING) return { name, phase: 'Ready', object: databaseObject(name) };
  return (i - RUNNING) % 2 === 0
    ? { name, phase: 'Stopped', object: databaseObject(name, { state: 'Stopped' }) }
    : { name, phase: 'Expired', object: databaseObject(name, { expiresAt: past }) };
}

async function idle(bed: TestBed, pid: number) {
  const baseline = await idleWindow(pid);
  console.log(`idle baseline (template only): ${JSON.stringify(baseline)}`);
  const past = new Date(Date.now() - 3600_000).toISOString();
  const curve: unknown[] = [];
  let declared = 0;
  for (const size of IDLE_SIZES) {
    if (Date.now() + WINDOW_S * 1000 > benchStarted + IDLE_BUDGET_S * 1000) {
      console.log(`idle: no time left in the budget for ${size} specs`);
      break;
    }
    // Grown from the previous size: the specs already there stay, the new ones come in one commit.
    const added = Array.from({ length: size - declared }, (_, k) => idleObject(declared + k, past));
    const started = performance.now();
    commit(bed, new Map(added.map((a) => [`${a.name}.yaml`, specFile(a.object)])));
    const pending = new Map(added.map((a) => [a.name, a.phase]));
    const left = benchStarted + IDLE_BUDGET_S * 1000 - Date.now();
    try {
      await waitFor(
        `${size} databases settled`,
        () => {
          for (const [name, phase] of pending)
            if (bed.database(name)?.status.phase === phase) pending.delete(name);
          return pending.size === 0;
        },
        Math.max(0, left),
        1000,
      );
    } catch {
      console.log(
        `idle: ${size} specs not settled within the budget (${pending.size} pending): curve stops here`,
      );
      curve.push({ specs: size, settled: false, pending: pending.size });
      break;
    }
    declared = size;
    const settleSeconds = (performance.now() - started) / 1000;
    const stopped = Math.ceil((size - RUNNING) / 2);
    console.log(`idle: ${size} specs settled in ${settleSeconds.toFixed(1)} s (${added.length} added)`);
    const loaded = await idleWindow(pid);
    console.log(`idle with ${size} specs: ${JSON.stringify(loaded)}`);
    curve.push({
      specs: size,
      mix: `${RUNNING} Running, ${stopped} Stopped, ${size - RUNNING - stopped} Expired`,
      settleSeconds: round(settleSeconds),
      ...loaded,
      rssMet: loaded.rssMiB * 1.048576 <= 200,
      cpuMet: loaded.cpuPerPassSeconds <= 1,
    });
  }
  return {
    name: `idle curve: ${IDLE_SIZES.join('/')} specs (${RUNNING} Running, the rest half Stopped, half Expired)`,
    resyncSeconds: RESYNC_S,
    windowSeconds: WINDOW_S,
    baseline,
    curve,
    target: 'RSS <= 200 MB and CPU per resync pass <= 1 s',
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
    // The burst removes its 50 databases at once: past the deletion guard, as an operator would confirm.
    config: { resyncSeconds: RESYNC_S, deletionGuardMax: 100_000, deletionGuardLimit: 100_000 },
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
const rows: Record<string, unknown>[] = [];
for (const r of results as Record<string, unknown>[]) {
  if (r.error) rows.push({ benchmark: r.name, result: `failed: ${r.error}` });
  else if (r.oursSeconds !== undefined)
    rows.push({
      benchmark: r.name,
      ours: `${r.oursSeconds} s (p95 ${r.oursP95})`,
      reference: `${r.floorSeconds} s by hand (p95 ${r.floorP95})`,
      ratio: `${r.ratio}x`,
      controller: `${r.controllerCpuSeconds} CPU s, peak ${r.controllerPeakRssMiB} MiB`,
      target: `${r.target}: ${r.met ? 'met' : 'MISSED'}`,
    });
  else {
    const base = r.baseline as { rssMiB: number; cpuPerPassSeconds: number };
    for (const point of r.curve as Record<string, unknown>[])
      if (point.settled === false)
        rows.push({
          benchmark: `idle: ${point.specs} specs`,
          result: `not settled in budget (${point.pending} pending)`,
        });
      else
        rows.push({
          benchmark: `idle: ${point.specs} specs (${point.mix})`,
          ours: `RSS ${point.rssMiB} MiB (peak ${point.peakRssMiB}), ${point.cpuPerPassSeconds} CPU s/pass`,
          reference: `template only: RSS ${base.rssMiB} MiB, ${base.cpuPerPassSeconds} CPU s/pass`,
          controller: `settled in ${point.settleSeconds} s`,
          target: `RSS <= 200 MB: ${point.rssMet ? 'met' : 'MISSED'}; CPU/pass <= 1 s: ${point.cpuMet ? 'met' : 'MISSED'}`,
        });
  }
}
console.table(rows);
console.log(`results: ${writeResults('scale', { machine: machine(), results })}`);
