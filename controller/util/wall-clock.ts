import { performance } from 'node:perf_hooks';

export interface WallClockOptions {
  /** A difference between wall-clock and monotonic time this large between two looks is a step. @default 5000 */
  readonly stepMs?: number;
  /** How long expiry waits after a step: one resync pass, so what it saw is looked at again. */
  readonly pauseMs: number;
  /** Called when a step is seen (log it, count it). */
  readonly onStep?: (stepMs: number) => void;
  /** @default Date.now / performance.now */
  readonly wall?: () => number;
  readonly monotonic?: () => number;
}

/**
 * Watches the wall clock against the monotonic one. An NTP step forward (or back) moves `Date.now()`
 * but not the monotonic clock: after one, every ttl would look due at once. Expiry waits a pass then.
 */
export class WallClock {
  readonly #o: WallClockOptions;
  readonly #wall: () => number;
  readonly #mono: () => number;
  #lastWall: number;
  #lastMono: number;
  #pausedUntilMono = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: WallClockOptions) {
    this.#o = options;
    this.#wall = options.wall ?? Date.now;
    this.#mono = options.monotonic ?? (() => performance.now());
    this.#lastWall = this.#wall();
    this.#lastMono = this.#mono();
  }

  /** Looks every `everyMs` (expiry also looks before it acts). */
  start(everyMs = 1000): void {
    this.#timer = setInterval(() => this.check(), everyMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  /** Compares the two clocks since the last look; a step pauses expiry. Returns the step seen (ms, signed). */
  check(): number {
    const wall = this.#wall();
    const mono = this.#mono();
    const step = wall - this.#lastWall - (mono - this.#lastMono);
    this.#lastWall = wall;
    this.#lastMono = mono;
    if (Math.abs(step) >= (this.#o.stepMs ?? 5000)) {
      this.#pausedUntilMono = mono + this.#o.pauseMs;
      this.#o.onStep?.(step);
    }
    return step;
  }

  /** How long expiry must still wait because of a recent step (0: it may act). */
  expiryPausedFor(): number {
    this.check();
    return Math.max(0, Math.ceil(this.#pausedUntilMono - this.#mono()));
  }
}
