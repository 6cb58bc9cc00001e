import type { Logger } from '../log.js';
import type { ObjectKey } from '../objects/index.js';

export interface DeletionInventory {
  /** Objects that exist (have data or a server), databases and templates alike. */
  readonly existing: ReadonlySet<ObjectKey>;
  /** Objects whose removal is wanted now: spec gone (while the specs can be trusted), or expired. */
  readonly unwanted: ReadonlySet<ObjectKey>;
}

export interface DeletionGuardOptions {
  /** More removals than this in one go are held, whatever the share... */
  readonly limit: number;
  /** ...and so are more than `max` that are also more than this fraction of what exists. */
  readonly max: number;
  readonly fraction: number;
  /**
   * A removal waits until its object has been unwanted this long: a `git checkout` of another branch
   * and back, or a restore from backup, brings the spec back before anything stops. Explicit deletions
   * (API, CLI) do not wait.
   */
  readonly graceMs: number;
  readonly inventory: () => Promise<DeletionInventory>;
  readonly log: Logger;
  /** @default Date.now */
  readonly now?: () => number;
}

export interface GuardVerdict {
  readonly allowed: boolean;
  readonly message?: string;
  /** When not allowed only for now: look again after this long. */
  readonly retryAfterMs?: number;
}

/** How long an explicit deletion stays exempt from the grace and the count if nothing acts on it. */
const EXPLICIT_TTL_MS = 10 * 60_000;

/**
 * Decides whether a removal may go ahead. Holds every removal when too many are wanted at once (a
 * wiped specs dir, a bad merge, a ttl typo in a shared file), as Argo CD refuses to prune everything;
 * the held set is latched as a whole: it is released when someone confirms it, or when every member
 * is wanted again, never piecemeal as files come back.
 */
export class DeletionGuard {
  readonly #options: DeletionGuardOptions;
  readonly #now: () => number;
  /** When each unwanted object was first seen unwanted (the grace counts from there). */
  readonly #since = new Map<ObjectKey, number>();
  /** Deletions a user asked for by name, with when. */
  readonly #explicit = new Map<ObjectKey, number>();
  /** The latched set, while a mass removal is held. */
  #held: Set<ObjectKey> | undefined;
  #confirmed = new Set<ObjectKey>();
  /** How many objects existed when the hold began (for the message). */
  #existing: number | undefined;
  readonly #listeners = new Set<(held: readonly ObjectKey[]) => void>();
  /** The held list as last told to listeners. */
  #told = '';

  constructor(options: DeletionGuardOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Objects held back right now (empty when nothing is held). */
  get held(): readonly ObjectKey[] {
    return this.#held ? [...this.#held].filter((k) => !this.#confirmed.has(k)).sort() : [];
  }

  /** Called whenever the held list changes (a hold begins, grows, is confirmed or lifted). */
  subscribe(listener: (held: readonly ObjectKey[]) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  #tell(): void {
    const held = this.held;
    const text = held.join(',');
    if (text === this.#told) return;
    this.#told = text;
    for (const listener of this.#listeners) listener(held);
  }

  /** A user deleted this object by name (API, CLI): no grace, and it does not count toward a mass removal. */
  markExplicit(key: ObjectKey): void {
    this.#explicit.set(key, this.#now());
  }

  /** Looks at what is unwanted now (a hold whose members all came back is lifted); the resync calls it. */
  async refresh(): Promise<void> {
    await this.#evaluate();
  }

  /** Whether `key`'s removal may go ahead now. */
  async check(key: ObjectKey): Promise<GuardVerdict> {
    const pending = await this.#evaluate();
    if (this.#held?.has(key) && !this.#confirmed.has(key)) {
      return { allowed: false, message: this.#heldMessage(this.#existing), retryAfterMs: 5_000 };
    }
    if (!pending.has(key) || this.isExplicit(key) || this.#confirmed.has(key)) return { allowed: true };
    const waited = this.#now() - (this.#since.get(key) ?? this.#now());
    const left = this.#options.graceMs - waited;
    if (left > 0) {
      return {
        allowed: false,
        message: `removal waits ${Math.ceil(left / 1000)}s more (a spec that comes back within ${Math.round(this.#options.graceMs / 1000)}s cancels it)`,
        retryAfterMs: left,
      };
    }
    return { allowed: true };
  }

  /** Confirms the removals held now (and any other pending one); later additions need a new confirmation. */
  async confirm(): Promise<ObjectKey[]> {
    const pending = await this.#evaluate();
    const confirmed = [...new Set([...(this.#held ?? []), ...pending])].filter((k) => pending.has(k)).sort();
    this.#confirmed = new Set(confirmed);
    this.#tell();
    this.#options.log.warn({ count: confirmed.length }, `removal of ${confirmed.length} object(s) confirmed`);
    return confirmed;
  }

  /** Updates the grace clocks and the latch from what is unwanted now; returns what is pending. */
  async #evaluate(): Promise<Set<ObjectKey>> {
    const { existing, unwanted } = await this.#options.inventory();
    const now = this.#now();
    const pending = new Set([...unwanted].filter((k) => existing.has(k)));
    for (const key of pending) if (!this.#since.has(key)) this.#since.set(key, now);
    for (const key of [...this.#since.keys()]) if (!pending.has(key)) this.#since.delete(key);
    for (const [key, at] of this.#explicit)
      if (!pending.has(key) && now - at > EXPLICIT_TTL_MS) this.#explicit.delete(key);
    for (const key of this.#confirmed) if (!pending.has(key)) this.#confirmed.delete(key);

    const counted = [...pending].filter((k) => !this.isExplicit(k));
    if (this.#held) {
      // Latched: what else goes missing joins the held set; it opens only when none of it is pending.
      for (const key of counted) this.#held.add(key);
      if (![...this.#held].some((k) => pending.has(k))) {
        this.#options.log.info('every held removal is wanted again: the hold is lifted');
        this.#held = undefined;
        this.#confirmed.clear();
      }
    } else if (this.#tooMany(counted.length, existing.size)) {
      this.#held = new Set(counted);
      this.#existing = existing.size;
      this.#options.log.warn({ pending: counted.slice(0, 20) }, this.#heldMessage(existing.size));
    }
    this.#tell();
    return pending;
  }

  #tooMany(count: number, existing: number): boolean {
    const { limit, max, fraction } = this.#options;
    return count > limit || (count > max && count > fraction * existing);
  }

  /** Whether a user deleted this object by name (it then goes to the trash as `Deleted`). */
  isExplicit(key: ObjectKey): boolean {
    return this.#explicit.has(key);
  }

  #heldMessage(existing?: number): string {
    const { limit, max, fraction } = this.#options;
    const held = this.held;
    const databases = held.filter((k) => k.startsWith('Database/')).length;
    const of = existing === undefined ? '' : ` of ${existing}`;
    return (
      `removal of ${held.length}${of} objects at once (${databases} databases, ${held.length - databases} templates) ` +
      `is held (more than ${limit}, or more than ${max} and more than ` +
      `${Math.round(fraction * 100)}% of what exists): restore their specs, or confirm with \`myaas confirm-deletions\` ` +
      '(POST /api/v1/deletions/confirm); nothing of it is removed until then'
    );
  }
}
