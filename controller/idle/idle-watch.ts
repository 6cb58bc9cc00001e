import { DEFAULT_ENGINE } from '../engine/defaults.js';
import type { Engine } from '../engine/engine.js';
import type { Logger } from '../log.js';
import type {
  DatabaseRecord,
  DatabaseStatus,
  DesiredState,
  EngineName,
  ObjectKey,
} from '../objects/index.js';
import type { Runtime, ServerInfo } from '../runtime/runtime.js';
import { formatDuration } from '../spec/duration.js';
import type { StatusStore } from '../state/status-store.js';
import { type EffectiveIdlePolicy, effectiveIdlePolicy } from './idle-policy.js';

/** The idle clock of one database, in epoch ms: what status.idle and status.lastActivity persist. */
export interface IdleClock {
  /** Idle time counts from here. */
  readonly countedFrom: number;
  /** When the watch last looked. */
  readonly watchedAt: number;
  /** The last client session seen (or start), if known. */
  readonly lastActivity?: number;
}

/**
 * One look at a database: its client sessions now. Idle time grows only between two looks no further
 * apart than `maxGapMs`; a longer gap (the controller was down, the database was not watched, the wall
 * clock stepped) is time nobody watched and is not counted: the idle time already counted is kept and
 * counting goes on from now. A server started since the last look counts as activity.
 */
export function advanceIdleClock(input: {
  readonly previous?: IdleClock;
  readonly sessions: number;
  /** Epoch ms the server became ready. */
  readonly readySince?: number;
  readonly now: number;
  readonly maxGapMs: number;
}): IdleClock & { readonly idleMs: number } {
  const { previous, sessions, readySince, now, maxGapMs } = input;
  let lastActivity = previous?.lastActivity;
  if (readySince !== undefined && (lastActivity === undefined || readySince > lastActivity))
    lastActivity = Math.min(readySince, now);
  let countedFrom: number;
  if (sessions > 0) {
    lastActivity = now;
    countedFrom = now;
  } else if (!previous) {
    // Nothing watched before this look: idle time starts now.
    countedFrom = now;
  } else {
    const gap = now - previous.watchedAt;
    const watched = gap >= 0 && gap <= maxGapMs;
    // Unwatched: keep what was counted (watchedAt - countedFrom), not the gap.
    countedFrom = watched ? previous.countedFrom : previous.countedFrom + gap;
    if (readySince !== undefined && readySince > countedFrom) countedFrom = readySince;
    countedFrom = Math.min(countedFrom, now);
  }
  return {
    countedFrom,
    watchedAt: now,
    ...(lastActivity !== undefined ? { lastActivity } : {}),
    idleMs: now - countedFrom,
  };
}

export interface IdleWatchOptions {
  readonly desired: DesiredState;
  readonly store: StatusStore;
  readonly runtime: Runtime;
  readonly engineFor: (name: EngineName) => Engine;
  readonly log: Logger;
  /** Asks for a reconcile of a database the watch found idle. */
  readonly enqueue: (key: ObjectKey) => void;
  /** Time between two passes. @default 30_000 */
  readonly pollMs?: number;
  /** Databases looked at at once. @default 4 */
  readonly concurrency?: number;
  /** Longest a session count may take. @default 10_000 */
  readonly queryTimeoutMs?: number;
  /** The clock (tests give a fake one). @default Date.now */
  readonly now?: () => number;
}

/** A database the watch looks at in a pass: running, Ready, with a Stop or Delete policy. */
interface Watched {
  readonly key: `Database/${string}`;
  readonly name: string;
  readonly policy: EffectiveIdlePolicy;
  readonly server: ServerInfo;
  readonly status: DatabaseStatus;
  readonly record: DatabaseRecord;
}

/**
 * Polls the running databases that have an idle policy (their own spec.idle, or their template's
 * databaseDefaults.idle) a few at once: counts their client sessions through the engine, records
 * status.lastActivity and the idle clock (persisted: a restart goes on counting, without the time it
 * was down), and when one has been idle for its policy's `after`, marks it in its record (idleStopped,
 * or idleDeleteDue) and asks for its reconcile, which stops it or removes it through the deletion
 * guard into the trash. A database whose sessions cannot be counted is never acted on.
 */
export class IdleWatch {
  readonly #options: IdleWatchOptions;
  readonly #pollMs: number;
  readonly #now: () => number;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #stopped = true;

  constructor(options: IdleWatchOptions) {
    this.#options = options;
    this.#pollMs = options.pollMs ?? 30_000;
    this.#now = options.now ?? Date.now;
  }

  /** Two polls and the pass's own time: looks further apart than this did not watch in between. */
  get maxGapMs(): number {
    return 2 * this.#pollMs + 5_000;
  }

  start(): void {
    this.#stopped = false;
    this.#schedule();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#running = this.pass()
        .catch((error) => this.#options.log.warn({ err: error }, 'idle watch pass failed'))
        .finally(() => {
          this.#running = undefined;
          this.#schedule();
        });
    }, this.#pollMs);
    this.#timer.unref();
  }

  /** One pass over every watched database (also called by tests). */
  async pass(): Promise<void> {
    const watched = await this.#watched();
    const queue = [...watched];
    const workers = Array.from(
      { length: Math.min(this.#options.concurrency ?? 4, queue.length) },
      async () => {
        for (let next = queue.shift(); next; next = queue.shift()) await this.#look(next);
      },
    );
    await Promise.all(workers);
  }

  async #watched(): Promise<Watched[]> {
    const { desired, store, runtime } = this.#options;
    // One listing per pass: a database's own newest server by owner, and any server by id for a
    // database claimed from the warm pool (it runs on the member's server, record.adoptedServer).
    const running = new Map<string, ServerInfo>();
    const byId = new Map<string, ServerInfo>();
    for (const server of await runtime.servers.list()) {
      if (!server.running || !server.hostPort) continue;
      byId.set(server.id, server);
      if (server.role !== 'Database') continue;
      const kept = running.get(server.owner);
      if (!kept || server.createdAt > kept.createdAt) running.set(server.owner, server);
    }
    const out: Watched[] = [];
    for (const declared of desired.list('Database')) {
      const name = declared.object.metadata.name;
      const key = `Database/${name}` as const;
      const stored = store.get(key);
      if (!stored) continue;
      const { status, record } = stored;
      const template = declared.object.spec.template ?? record.template;
      const policy = effectiveIdlePolicy(
        declared.object.spec,
        desired.get(`Template/${template}`)?.object.spec,
      );
      if (!policy) {
        // The policy went (or is Keep): nothing is watched, nothing shown.
        if (status.idle) {
          status.idle = undefined;
          await store.save(key, status, record);
        }
        continue;
      }
      const server = running.get(name) ?? (record.adoptedServer ? byId.get(record.adoptedServer) : undefined);
      if (!server || status.phase !== 'Ready' || record.expired || record.idleStopped || record.idleDeleteDue)
        continue;
      if (declared.object.spec.state !== 'Running') continue;
      // A protected database is never removed: for it a Delete policy does nothing.
      if (policy.action === 'Delete' && declared.object.spec.protected) continue;
      out.push({ key, name, policy, server, status, record });
    }
    return out;
  }

  /** Counts one database's sessions, moves its idle clock, and acts when it is idle long enough. */
  async #look(watched: Watched): Promise<void> {
    const { store, runtime, engineFor, log } = this.#options;
    const { key, policy, server, status, record } = watched;
    const engine = engineFor(record.engine ?? status.engine ?? DEFAULT_ENGINE);
    let sessions: number;
    try {
      sessions = await withTimeout(
        engine.admin.clientSessions(
          { host: runtime.connectHost, port: server.hostPort! },
          { user: engine.admin.user, password: record.adminPassword },
        ),
        this.#options.queryTimeoutMs ?? 10_000,
      );
    } catch (error) {
      // Not counted, not acted on: the next look that succeeds sees the gap as unwatched time.
      log.debug({ key, err: error }, 'idle watch: client sessions could not be counted');
      return;
    }
    // The reconcile may have moved on meanwhile (stopped, removed): only a database still Ready counts.
    const current = store.get(key);
    if (!current || current.status !== status || status.phase !== 'Ready' || record.idleStopped) return;
    const now = this.#now();
    const clock = advanceIdleClock({
      previous: status.idle
        ? {
            countedFrom: Date.parse(status.idle.countedFrom),
            watchedAt: Date.parse(status.idle.watchedAt),
            ...(status.lastActivity ? { lastActivity: Date.parse(status.lastActivity) } : {}),
          }
        : undefined,
      sessions,
      ...(status.readySince ? { readySince: Date.parse(status.readySince) } : {}),
      now,
      maxGapMs: this.maxGapMs,
    });
    if (clock.lastActivity !== undefined) status.lastActivity = new Date(clock.lastActivity).toISOString();
    status.idle = {
      after: formatDuration(policy.afterSeconds),
      action: policy.action,
      from: policy.from,
      countedFrom: new Date(clock.countedFrom).toISOString(),
      watchedAt: new Date(clock.watchedAt).toISOString(),
    };
    const idle = clock.idleMs >= policy.afterSeconds * 1000;
    if (idle) {
      const mark = { at: now, afterSeconds: policy.afterSeconds };
      if (policy.action === 'Stop') record.idleStopped = mark;
      else record.idleDeleteDue = mark;
      log.info(
        { key, idleSeconds: Math.round(clock.idleMs / 1000), action: policy.action },
        `no client session for ${formatDuration(policy.afterSeconds)}: ${policy.action === 'Stop' ? 'stopping it (data kept)' : 'deleting it (into the trash)'}`,
      );
    }
    await store.save(key, status, record);
    if (idle) this.#options.enqueue(key);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
