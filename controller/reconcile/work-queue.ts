import type { Logger } from '../log.js';

/** What a reconcile returns: done, or "look again after this long" (e.g. at a TTL's expiry). */
export type ReconcileResult = { readonly requeueAfterMs?: number } | undefined;

export type ReconcileFn<K extends string> = (key: K, log: Logger) => Promise<ReconcileResult | undefined>;

export interface WorkQueueOptions<K extends string> {
  readonly reconcile: ReconcileFn<K>;
  readonly log: Logger;
  /** Keys reconciled at once. @default 4 */
  readonly concurrency?: number;
  /** First retry delay after a failure, doubled per failure. @default 500 */
  readonly backoffBaseMs?: number;
  /** Longest retry delay. @default 60000 */
  readonly backoffMaxMs?: number;
  /** Told of every reconcile's outcome and duration (metrics). */
  readonly observe?: (key: K, result: 'success' | 'error', seconds: number) => void;
}

/**
 * controller-runtime's work queue: three sets (queued, processing, dirty) make sure one key is never
 * reconciled twice at once and always once more after a change that came in meanwhile. Failures retry
 * with capped exponential backoff; a thrown error never stops the loop.
 *
 * Queued keys wait as keys (a FIFO of the strings the caller already holds), and only `concurrency`
 * reconciles exist at a time. A resync pass queues every object: at 10,000 objects a promise and a
 * closure per queued key (p-queue's way) lived as long as the pass, outlived V8's young generation and
 * were promoted, only to die in the old one (BENCHMARKS.md "a pass that holds nothing").
 */
export class WorkQueue<K extends string> {
  readonly #concurrency: number;
  /** Keys waiting, oldest first, from `#head` on (a moving head: shift() is O(n) on a long array). */
  #order: K[] = [];
  #head = 0;
  #running = 0;
  #idleWaiters: (() => void)[] = [];
  readonly #reconcile: ReconcileFn<K>;
  readonly #log: Logger;
  readonly #backoffBaseMs: number;
  readonly #backoffMaxMs: number;
  readonly #observe: WorkQueueOptions<K>['observe'];
  readonly #queued = new Set<K>();
  readonly #processing = new Set<K>();
  readonly #dirty = new Set<K>();
  readonly #failures = new Map<K, number>();
  /** Runs started: the reconcile id in the log. */
  #runs = 0;
  readonly #timers = new Map<K, { at: number; timer: NodeJS.Timeout }>();
  #stopped = false;

  constructor(options: WorkQueueOptions<K>) {
    const concurrency = options.concurrency ?? 4;
    if (!Number.isInteger(concurrency) || concurrency < 1) {
      throw new TypeError(`Expected \`concurrency\` to be an integer from 1 and up, got \`${concurrency}\``);
    }
    this.#concurrency = concurrency;
    this.#reconcile = options.reconcile;
    this.#log = options.log;
    this.#backoffBaseMs = options.backoffBaseMs ?? 500;
    this.#backoffMaxMs = options.backoffMaxMs ?? 60_000;
    this.#observe = options.observe;
  }

  /** Asks for a reconcile of `key` as soon as possible. */
  add(key: K): void {
    if (this.#stopped) return;
    if (this.#processing.has(key)) {
      this.#dirty.add(key);
      return;
    }
    if (this.#queued.has(key)) return;
    this.#cancelTimer(key);
    this.#queued.add(key);
    this.#order.push(key);
    this.#pump();
  }

  /** Starts waiting keys while fewer than `concurrency` run. */
  #pump(): void {
    while (this.#running < this.#concurrency && this.#head < this.#order.length) {
      const key = this.#order[this.#head++]!;
      if (this.#head > 1024 && this.#head * 2 > this.#order.length) {
        this.#order = this.#order.slice(this.#head);
        this.#head = 0;
      }
      // Dropped from the queue meanwhile (stop()): nothing to run.
      if (!this.#queued.has(key)) continue;
      this.#running++;
      void this.#run(key)
        // #run catches what a reconcile throws; this is for the queue's own bookkeeping failing (a
        // logger): told, never an unhandled rejection that would end the process.
        .catch((error) =>
          this.#log.error({ key, err: error }, 'work queue: a run failed outside its reconcile'),
        )
        .finally(() => {
          this.#running--;
          this.#pump();
          this.#settleIdle();
        });
    }
    // Drained: let go of the keys already run (the slice above only happens past 1024).
    if (this.#head > 0 && this.#head >= this.#order.length) {
      this.#order = [];
      this.#head = 0;
    }
    this.#settleIdle();
  }

  #settleIdle(): void {
    if (this.#running > 0 || this.#head < this.#order.length || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  /** Asks for a reconcile after `delayMs`; an earlier request for the same key wins. */
  addAfter(key: K, delayMs: number): void {
    if (this.#stopped) return;
    const at = Date.now() + delayMs;
    const existing = this.#timers.get(key);
    if (existing && existing.at <= at) return;
    this.#cancelTimer(key);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      this.add(key);
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { at, timer });
  }

  /** Failures in a row for `key` (0 after a success). */
  failures(key: K): number {
    return this.#failures.get(key) ?? 0;
  }

  get size(): number {
    return this.#queued.size + this.#processing.size;
  }

  /** Resolves when nothing is queued or running (scheduled retries do not count). */
  async onIdle(): Promise<void> {
    if (this.#running === 0 && this.#head >= this.#order.length) return;
    await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Stops taking work and waits for running reconciles to finish. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const key of [...this.#timers.keys()]) this.#cancelTimer(key);
    this.#queued.clear();
    this.#order = [];
    this.#head = 0;
    await this.onIdle();
  }

  backoffMs(failures: number): number {
    return Math.min(this.#backoffMaxMs, this.#backoffBaseMs * 2 ** Math.max(0, failures - 1));
  }

  async #run(key: K): Promise<void> {
    this.#queued.delete(key);
    if (this.#stopped) return;
    this.#processing.add(key);
    let log = this.#log;
    const started = Date.now();
    let failed = false;
    try {
      // A counter, not random bytes: unique within the process is all a log reader needs, and free.
      log = this.#log.child({ key, reconcileId: (++this.#runs).toString(36) });
      const result = await this.#reconcile(key, log);
      this.#failures.delete(key);
      this.#tell(key, 'success', (Date.now() - started) / 1000);
      log.debug({ ms: Date.now() - started }, 'reconciled');
      if (result?.requeueAfterMs !== undefined) this.addAfter(key, Math.max(0, result.requeueAfterMs));
    } catch (error) {
      failed = true;
      const failures = (this.#failures.get(key) ?? 0) + 1;
      this.#failures.set(key, failures);
      this.#tell(key, 'error', (Date.now() - started) / 1000);
      const retryMs = this.backoffMs(failures);
      log.warn({ err: error, failures, retryMs }, 'reconcile failed; will retry');
      this.addAfter(key, retryMs);
    } finally {
      this.#processing.delete(key);
      // A change seen during a failed run waits for the retry: the failing run's own side effects
      // (a container dying, say) must not turn the backoff into a tight loop.
      if (this.#dirty.delete(key) && !failed) this.add(key);
    }
  }

  /** Metrics: a failure there is logged, and changes nothing about the reconcile's outcome. */
  #tell(key: K, result: 'success' | 'error', seconds: number): void {
    try {
      this.#observe?.(key, result, seconds);
    } catch (error) {
      this.#log.warn({ key, err: error }, 'reconcile metrics not recorded');
    }
  }

  #cancelTimer(key: K): void {
    const existing = this.#timers.get(key);
    if (existing) clearTimeout(existing.timer);
    this.#timers.delete(key);
  }
}
