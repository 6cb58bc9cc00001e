import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import {
  type Delivery,
  type DeliveryOutcome,
  DeliveryQueue,
  type Transport,
  type WebhookRequest,
} from '../../../controller/webhooks/delivery-queue.js';
import { verifySignature } from '../../../controller/webhooks/signature.js';
import type { WebhookEndpoint } from '../../../controller/webhooks/webhooks-file.js';

const SECRET = 'unit-test-secret-0123456789';
const endpoint = (over: Partial<WebhookEndpoint> = {}): WebhookEndpoint => ({
  name: 'ci',
  url: 'http://receiver.test/hook',
  secret: SECRET,
  events: new Set(['database.ready']),
  timeoutMs: 5_000,
  retryForMs: 60_000,
  ...over,
});
const delivery = (n: number): Delivery => ({
  id: `d${n}`,
  type: 'database.ready',
  key: `Database/db${n}`,
  body: JSON.stringify({ n }),
});

/** A receiver scripted per call: a status, or an error thrown (refused, timed out); records each request at its (fake) time. */
class ScriptedTransport implements Transport {
  readonly requests: { at: number; request: WebhookRequest }[] = [];
  constructor(readonly answer: (call: number, request: WebhookRequest) => number | Error) {}
  async post(request: WebhookRequest): Promise<number> {
    this.requests.push({ at: Date.now(), request });
    const answer = this.answer(this.requests.length, request);
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

function queueWith(transport: Transport, over: Partial<WebhookEndpoint> = {}, maxQueued?: number) {
  const outcomes: [string, DeliveryOutcome][] = [];
  const retries: [string, number, number][] = [];
  const queue = new DeliveryQueue({
    endpoint: endpoint(over),
    transport,
    log: silentLogger,
    ...(maxQueued ? { maxQueued } : {}),
    onOutcome: (d, o) => outcomes.push([d.id, o]),
    onRetry: (d, failed, _error, waitMs) => retries.push([d.id, failed, waitMs]),
  });
  return { queue, outcomes, retries };
}

const refused = () => Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });

describe('DeliveryQueue (fake clock)', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('sends at once, signed, with event, delivery, timestamp and attempt headers; one attempt when answered 2xx', async () => {
    const transport = new ScriptedTransport(() => 204);
    const { queue, outcomes } = queueWith(transport);
    queue.push(delivery(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(outcomes).toEqual([['d1', { result: 'delivered', attempts: 1, status: 204 }]]);
    const { request } = transport.requests[0]!;
    expect(request.url).toBe('http://receiver.test/hook');
    expect(request.body).toBe('{"n":1}');
    expect(verifySignature(request.body, SECRET, request.headers['X-Myaas-Signature'])).toBe(true);
    expect(request.headers).toMatchObject({
      'Content-Type': 'application/json',
      'X-Myaas-Event': 'database.ready',
      'X-Myaas-Delivery': 'd1',
      'X-Myaas-Timestamp': '1000',
      'X-Myaas-Attempt': '1',
    });
    expect(queue.size).toBe(0);
  });

  it('retries refused connections and 5xx with 1, 2, 4 s waits, then delivers the same signed bytes', async () => {
    const transport = new ScriptedTransport((call) => (call === 1 ? refused() : call < 4 ? 503 : 200));
    const { queue, outcomes, retries } = queueWith(transport);
    queue.push(delivery(1));
    await vi.advanceTimersByTimeAsync(0);
    expect(transport.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(999);
    expect(transport.requests).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(transport.requests).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(6_000);
    expect(transport.requests.map((r) => r.at - 1_000_000)).toEqual([0, 1000, 3000, 7000]);
    expect(retries).toEqual([
      ['d1', 1, 1000],
      ['d1', 2, 2000],
      ['d1', 3, 4000],
    ]);
    expect(outcomes).toEqual([['d1', { result: 'delivered', attempts: 4, status: 200 }]]);
    const bodies = new Set(transport.requests.map((r) => r.request.body));
    const signatures = new Set(transport.requests.map((r) => r.request.headers['X-Myaas-Signature']));
    expect([bodies.size, signatures.size]).toEqual([1, 1]);
    expect(transport.requests.map((r) => r.request.headers['X-Myaas-Attempt'])).toEqual(['1', '2', '3', '4']);
  });

  it('gives up when the next wait would pass the retry window, saying how many attempts over how long', async () => {
    const transport = new ScriptedTransport(() => refused());
    const { queue, outcomes } = queueWith(transport, { retryForMs: 10_000 });
    queue.push(delivery(1));
    await vi.advanceTimersByTimeAsync(60_000);
    // 0, 1, 3, 7 s; the next wait (8 s) would end at 15 s > 10 s.
    expect(transport.requests.map((r) => r.at - 1_000_000)).toEqual([0, 1000, 3000, 7000]);
    expect(outcomes).toEqual([
      [
        'd1',
        {
          result: 'failed',
          attempts: 4,
          error: 'fetch failed (ECONNREFUSED); given up after 4 attempts over 7 s',
        },
      ],
    ]);
    expect(queue.size).toBe(0);
  });

  it('does not retry a 4xx that will not change (but does retry 408 and 429)', async () => {
    const statuses = new Map([
      ['{"n":1}', [401]],
      ['{"n":2}', [429, 408, 200]],
    ]);
    const transport = new ScriptedTransport((_call, r) => statuses.get(r.body)!.shift()!);
    const { queue, outcomes } = queueWith(transport);
    queue.push(delivery(1));
    queue.push(delivery(2));
    await vi.advanceTimersByTimeAsync(10_000);
    expect(outcomes).toEqual([
      [
        'd1',
        {
          result: 'failed',
          attempts: 1,
          error: 'answered HTTP 401 (not retried: fix the receiver, e.g. its secret or its path)',
        },
      ],
      ['d2', { result: 'delivered', attempts: 3, status: 200 }],
    ]);
  });

  it('a delivery that backs off does not hold up newer ones; at most two attempts are under way at once', async () => {
    let open = 0;
    let most = 0;
    const transport: Transport = {
      async post(request) {
        open++;
        most = Math.max(most, open);
        await new Promise((r) => setTimeout(r, 100));
        open--;
        return request.body === '{"n":1}' && Date.now() < 1_002_000 ? 503 : 200;
      },
    };
    const { queue, outcomes } = queueWith(transport);
    for (let n = 1; n <= 5; n++) queue.push(delivery(n));
    await vi.advanceTimersByTimeAsync(600);
    expect(outcomes.map(([id]) => id)).toEqual(['d2', 'd3', 'd4', 'd5']);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(outcomes.map(([id]) => id)).toEqual(['d2', 'd3', 'd4', 'd5', 'd1']);
    expect(most).toBe(2);
    await queue.onIdle();
  });

  it('a full queue gives up its oldest waiting delivery; stop drops the rest and says how many', async () => {
    const transport = new ScriptedTransport(() => 503);
    const { queue, outcomes } = queueWith(transport, {}, 3);
    for (let n = 1; n <= 4; n++) queue.push(delivery(n));
    await vi.advanceTimersByTimeAsync(0);
    // d1 and d2 are under way: d3 is the oldest waiting when d4 comes.
    expect(outcomes).toEqual([
      [
        'd3',
        {
          result: 'failed',
          attempts: 0,
          error: 'queue full (3 deliveries waiting): the oldest was given up',
        },
      ],
    ]);
    expect(queue.size).toBe(3);
    expect(queue.stop()).toBe(3);
    const sent = transport.requests.length;
    await vi.advanceTimersByTimeAsync(120_000);
    expect(transport.requests.length).toBe(sent);
    expect(queue.size).toBe(0);
  });
});
