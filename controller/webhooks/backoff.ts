/** How long a failed delivery waits before its next attempt. */
export interface BackoffOptions {
  /** Wait after the first failed attempt, ms. @default 1000 */
  readonly baseMs?: number;
  /** Longest wait between two attempts, ms. @default 60000 */
  readonly maxMs?: number;
}

export const DEFAULT_BACKOFF = { baseMs: 1000, maxMs: 60_000 } as const;

/**
 * Exponential backoff, capped: 1 s, 2 s, 4 s ... 60 s, 60 s. No jitter: each endpoint sends at most
 * a few deliveries at once, so a receiver that comes back is not stampeded by synchronized retries.
 */
export function retryDelayMs(failedAttempts: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const max = options.maxMs ?? DEFAULT_BACKOFF.maxMs;
  if (!Number.isInteger(failedAttempts) || failedAttempts < 1)
    throw new Error(`Expected \`failedAttempts\` to be an integer from 1 up, got \`${failedAttempts}\``);
  return Math.min(max, base * 2 ** Math.min(failedAttempts - 1, 52));
}

/**
 * The waits before each retry of a delivery that keeps failing at once, within `retryForMs` of its
 * first attempt: what the README's schedule and the unit tests read. (A slow failure, up to the
 * timeout, spends the window faster: the queue counts real time.)
 */
export function retrySchedule(retryForMs: number, options: BackoffOptions = {}): number[] {
  const waits: number[] = [];
  let elapsed = 0;
  for (let failed = 1; ; failed++) {
    const wait = retryDelayMs(failed, options);
    if (elapsed + wait > retryForMs) return waits;
    waits.push(wait);
    elapsed += wait;
  }
}
