import type { Logger } from '../log.js';
import type { ObjectKey } from '../objects/index.js';
import { type BackoffOptions, retryDelayMs } from './backoff.js';
import { SIGNATURE_HEADER, signBody } from './signature.js';
import type { WebhookEventType } from './webhook-events.js';
import type { WebhookEndpoint } from './webhooks-file.js';

/** One HTTP POST of a delivery. */
export interface WebhookRequest {
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** How deliveries leave: the HTTP status answered, or a throw (refused, reset, timed out). */
export interface Transport {
  post(request: WebhookRequest, timeoutMs: number, signal: AbortSignal): Promise<number>;
}

/** One event for one endpoint: its body is fixed (and signed) once; every attempt sends the same bytes. */
export interface Delivery {
  readonly id: string;
  readonly type: WebhookEventType;
  readonly key: ObjectKey;
  readonly body: string;
}

export type DeliveryOutcome =
  | { readonly result: 'delivered'; readonly attempts: number; readonly status: number }
  | { readonly result: 'failed'; readonly attempts: number; readonly error: string };

export interface DeliveryQueueOptions {
  readonly endpoint: WebhookEndpoint;
  readonly transport: Transport;
  readonly log: Logger;
  readonly backoff?: BackoffOptions;
  /** Deliveries waiting or under way at most; the oldest waiting one is given up beyond. @default 1000 */
  readonly maxQueued?: number;
  /** Attempts under way at once. @default 2 */
  readonly concurrency?: number;
  /** Told once per delivery, when it is delivered or given up. */
  readonly onOutcome: (delivery: Delivery, outcome: DeliveryOutcome) => void;
  /** Told for each failed attempt that will be retried. */
  readonly onRetry?: (delivery: Delivery, failedAttempts: number, error: string, waitMs: number) => void;
  /** @default Date.now */
  readonly now?: () => number;
  /** The `User-Agent` header. */
  readonly userAgent?: string;
}

interface Pending {
  readonly delivery: Delivery;
  readonly signature: string;
  readonly firstAt: number;
  attempts: number;
  dueAt: number;
}

/** Statuses worth another attempt: the receiver is busy or broken for now. Other 4xx/3xx will not change. */
const RETRYABLE = (status: number) => status >= 500 || status === 408 || status === 429;

/**
 * The deliveries of one endpoint, in memory: sent in the background (a reconcile only pushes), a few at
 * a time, each retried with capped exponential backoff until it is delivered or `retryFor` after its
 * first attempt has passed. One endpoint that is down never delays another's deliveries.
 */
export class DeliveryQueue {
  readonly #options: DeliveryQueueOptions;
  readonly #now: () => number;
  readonly #waiting: Pending[] = [];
  #inFlight = 0;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #abort = new AbortController();
  #idle: (() => void)[] = [];

  constructor(options: DeliveryQueueOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  get endpoint(): WebhookEndpoint {
    return this.#options.endpoint;
  }

  /** Deliveries waiting or under way. */
  get size(): number {
    return this.#waiting.length + this.#inFlight;
  }

  push(delivery: Delivery): void {
    if (this.#stopped) return;
    if (this.size >= (this.#options.maxQueued ?? 1000)) {
      const oldest = this.#waiting.shift();
      if (oldest)
        this.#options.onOutcome(oldest.delivery, {
          result: 'failed',
          attempts: oldest.attempts,
          error: `queue full (${this.#options.maxQueued ?? 1000} deliveries waiting): the oldest was given up`,
        });
    }
    const now = this.#now();
    this.#waiting.push({
      delivery,
      signature: signBody(delivery.body, this.#options.endpoint.secret),
      firstAt: now,
      attempts: 0,
      dueAt: now,
    });
    this.#pump();
  }

  /** Resolves when nothing waits nor is under way (tests, and a graceful stop). */
  onIdle(): Promise<void> {
    if (this.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Stops sending: attempts under way are aborted. Returns how many deliveries are left undelivered. */
  stop(): number {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    const left = this.size;
    this.#waiting.length = 0;
    return left;
  }

  /** Starts every due delivery the concurrency allows, and sets a timer for the next one due. */
  #pump(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const concurrency = this.#options.concurrency ?? 2;
    while (this.#inFlight < concurrency) {
      const now = this.#now();
      let next = -1;
      for (let i = 0; i < this.#waiting.length; i++)
        if (
          this.#waiting[i]!.dueAt <= now &&
          (next < 0 || this.#waiting[i]!.dueAt < this.#waiting[next]!.dueAt)
        )
          next = i;
      if (next < 0) break;
      const [pending] = this.#waiting.splice(next, 1);
      this.#inFlight++;
      void this.#attempt(pending!).finally(() => {
        this.#inFlight--;
        this.#pump();
      });
    }
    if (this.#inFlight < concurrency && this.#waiting.length > 0) {
      const due = Math.min(...this.#waiting.map((p) => p.dueAt));
      this.#timer = setTimeout(() => this.#pump(), Math.max(0, due - this.#now()));
      this.#timer.unref?.();
    }
    if (this.size === 0) for (const resolve of this.#idle.splice(0)) resolve();
  }

  async #attempt(pending: Pending): Promise<void> {
    const { endpoint, transport, onOutcome } = this.#options;
    const { delivery } = pending;
    pending.attempts++;
    let error: string;
    let retry = true;
    try {
      const status = await transport.post(this.#request(pending), endpoint.timeoutMs, this.#abort.signal);
      if (status >= 200 && status < 300) {
        onOutcome(delivery, { result: 'delivered', attempts: pending.attempts, status });
        return;
      }
      error = `answered HTTP ${status}`;
      retry = RETRYABLE(status);
      if (!retry) error += ' (not retried: fix the receiver, e.g. its secret or its path)';
    } catch (thrown) {
      error = describeError(thrown, endpoint.timeoutMs);
    }
    if (this.#stopped) return;
    const now = this.#now();
    const waitMs = retryDelayMs(pending.attempts, this.#options.backoff);
    if (!retry || now + waitMs > pending.firstAt + endpoint.retryForMs) {
      const over = retry
        ? `; given up after ${pending.attempts} attempts over ${Math.round((now - pending.firstAt) / 1000)} s`
        : '';
      onOutcome(delivery, { result: 'failed', attempts: pending.attempts, error: `${error}${over}` });
      return;
    }
    pending.dueAt = now + waitMs;
    this.#waiting.push(pending);
    this.#options.onRetry?.(delivery, pending.attempts, error, waitMs);
  }

  #request(pending: Pending): WebhookRequest {
    const { delivery } = pending;
    return {
      url: this.#options.endpoint.url,
      body: delivery.body,
      headers: {
        'Content-Type': 'application/json',
        'User-Agent': this.#options.userAgent ?? 'myaas-webhooks',
        [SIGNATURE_HEADER]: pending.signature,
        'X-Myaas-Event': delivery.type,
        'X-Myaas-Delivery': delivery.id,
        // When this attempt was sent, unix seconds (the event's own time is in the signed body).
        'X-Myaas-Timestamp': String(Math.floor(this.#now() / 1000)),
        'X-Myaas-Attempt': String(pending.attempts),
      },
    };
  }
}

/** A failed attempt in a line: refused, reset, timed out, with the cause undici hides in `cause`. */
function describeError(error: unknown, timeoutMs: number): string {
  const e = error as Error & { cause?: { code?: string; message?: string } };
  if (e?.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  const cause = e?.cause?.code ?? e?.cause?.message;
  return cause ? `${e.message} (${cause})` : String(e?.message ?? error);
}
