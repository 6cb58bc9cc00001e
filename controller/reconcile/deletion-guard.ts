import type { Logger } from '../log.js';

export interface DeletionInventory {
  /** Names that exist (have data or a server). */
  readonly existing: ReadonlySet<string>;
  /** Names whose removal is wanted now (no spec). */
  readonly unwanted: ReadonlySet<string>;
}

export interface DeletionGuardOptions {
  readonly what: string;
  /** Removals allowed in one go without confirmation... */
  readonly max: number;
  /** ...or this fraction of what exists: removals are held when both are exceeded. */
  readonly fraction: number;
  readonly inventory: () => Promise<DeletionInventory>;
  readonly log: Logger;
}

export interface GuardVerdict {
  readonly allowed: boolean;
  readonly message?: string;
}

/**
 * Holds every removal when too many are wanted at once (a wiped specs dir, a bad merge), as Argo CD
 * refuses to prune everything: nothing goes until someone confirms the exact set that is pending.
 */
export class DeletionGuard {
  readonly #options: DeletionGuardOptions;
  #confirmed = new Set<string>();
  #held: string[] = [];

  constructor(options: DeletionGuardOptions) {
    this.#options = options;
  }

  /** Names held back right now (empty when nothing is held). */
  get held(): readonly string[] {
    return this.#held;
  }

  async check(name: string): Promise<GuardVerdict> {
    const { existing, unwanted } = await this.#options.inventory();
    const pending = [...unwanted].filter((n) => existing.has(n));
    const { max, fraction, what } = this.#options;
    const tooMany = pending.length > max && pending.length > fraction * existing.size;
    if (!tooMany || pending.every((n) => this.#confirmed.has(n))) {
      if (this.#held.length > 0) this.#held = [];
      return { allowed: true };
    }
    const message =
      `removal of ${pending.length} of ${existing.size} ${what}s at once is held (more than ${max} and more than ` +
      `${Math.round(fraction * 100)}%): restore their specs, or confirm with \`myaas confirm-deletions\` ` +
      '(POST /api/v1/deletions/confirm)';
    if (this.#held.length !== pending.length)
      this.#options.log.warn({ pending: pending.slice(0, 20) }, message);
    this.#held = pending;
    return { allowed: false, message };
  }

  /** Confirms the removals pending now; later additions need a new confirmation. */
  async confirm(): Promise<string[]> {
    const { existing, unwanted } = await this.#options.inventory();
    const pending = [...unwanted].filter((n) => existing.has(n));
    this.#confirmed = new Set(pending);
    this.#options.log.warn(
      { count: pending.length },
      `removal of ${pending.length} ${this.#options.what}(s) confirmed`,
    );
    return pending;
  }
}
