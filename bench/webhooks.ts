import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Layout } from '../controller/layout.js';
import { silentLogger } from '../controller/log.js';
import type { DatabaseRecord } from '../controller/objects/index.js';
import { StatusStore } from '../controller/state/status-store.js';
import { HttpTransport } from '../controller/webhooks/http-transport.js';
import { WEBHOOK_EVENTS } from '../controller/webhooks/webhook-events.js';
import { WebhookNotifier } from '../controller/webhooks/webhook-notifier.js';
import { machine, option, printTable, round, summarize, writeResults } from './lib.js';

/**
 * Webhook delivery latency: from the moment a reconciler records an event (StatusStore.event) to the
 * moment a local receiver (node:http) has the request, beside the raw floor: the same body POSTed with
 * fetch from the same process to the same receiver. Interleaved, one at a time; then a burst.
 */
const reps = Number(option('reps', '300'));
const burst = Number(option('burst', '1000'));

const arrivals = new Map<string, number>();
let onArrival: ((id: string) => void) | undefined;
const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const now = performance.now();
    const id = String(JSON.parse(Buffer.concat(chunks).toString()).message);
    arrivals.set(id, now);
    res.writeHead(204).end();
    onArrival?.(id);
  });
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`;
const arrived = (id: string) =>
  new Promise<number>((resolve) => {
    const done = arrivals.get(id);
    if (done !== undefined) return resolve(done);
    onArrival = (got) => {
      if (got === id) resolve(arrivals.get(id)!);
    };
  });

const root = mkdtempSync(path.join(tmpdir(), 'myaas-bench-hooks-'));
const store = new StatusStore(new Layout(root), silentLogger);
const notifier = new WebhookNotifier({
  endpoints: [
    {
      name: 'bench',
      url,
      secret: 'bench-secret-0123456789abcdef',
      events: new Set(WEBHOOK_EVENTS),
      timeoutMs: 10_000,
      retryForMs: 60_000,
    },
  ],
  events: store,
  transport: new HttpTransport(),
  log: silentLogger,
});
notifier.start();
await store.save(
  'Database/bench',
  { phase: 'Ready', template: 'shop', templateVersion: 'v1', conditions: [] },
  { template: 'shop', owner: 'alice' } as unknown as DatabaseRecord,
);

const ours: number[] = [];
const floor: number[] = [];
const body = (id: string) =>
  JSON.stringify({ type: 'database.ready', message: id, padding: 'x'.repeat(600) });
for (let i = 0; i < reps; i++) {
  // Interleaved: each pair of samples sees the same machine.
  const a = `ours-${i}`;
  const t0 = performance.now();
  void store.event('Database/bench', 'Normal', 'Ready', a);
  ours.push((await arrived(a)) - t0);
  const b = `floor-${i}`;
  const t1 = performance.now();
  const response = await fetch(url, {
    method: 'POST',
    body: body(b),
    headers: { 'Content-Type': 'application/json' },
  });
  await response.body?.cancel();
  floor.push((await arrived(b)) - t1);
}
await notifier.onIdle();

// A burst: `burst` events recorded at once, until the last is delivered.
const t2 = performance.now();
for (let i = 0; i < burst; i++) void store.event('Database/bench', 'Normal', 'Ready', `burst-${i}`);
const recorded = performance.now() - t2;
await notifier.onIdle();
const burstMs = performance.now() - t2;

const rows = [summarize({ name: 'event recorded -> receiver has it', ours, reference: floor, unit: 'ms' })];
printTable(rows);
console.log(
  `burst: ${burst} events recorded in ${round(recorded, 1)} ms (what the reconciles waited), all delivered in ${round(burstMs, 0)} ms (${round(burst / (burstMs / 1000), 0)}/s, 2 at a time)`,
);
const file = writeResults('webhooks', {
  machine: machine(),
  rows,
  burst: { events: burst, recordedMs: recorded, deliveredMs: burstMs },
});
console.log(`results: ${file}`);
notifier.stop();
await store.flush();
server.closeAllConnections();
server.close();
rmSync(root, { recursive: true, force: true });
