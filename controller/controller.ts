import { readdir } from 'node:fs/promises';
import type { ControllerConfig } from './config.js';
import type { Engine } from './engine/engine.js';
import { engineFor } from './engine/engines.js';
import { IdleWatch } from './idle/idle-watch.js';
import { clearIdleStop } from './idle/start-request.js';
import type { Layout } from './layout.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import {
  type DesiredState,
  type EngineName,
  type ObjectKey,
  expiryOf,
  parseKey,
  parseMemberOwner,
} from './objects/index.js';
import { PoolMembers } from './pool/pool-members.js';
import { DatabaseReconciler } from './reconcile/database-reconciler.js';
import { DeletionGuard, type DeletionInventory } from './reconcile/deletion-guard.js';
import { PoolReconciler } from './reconcile/pool-reconciler.js';
import { TemplateReconciler } from './reconcile/template-reconciler.js';
import { WorkQueue } from './reconcile/work-queue.js';
import type { Runtime } from './runtime/runtime.js';
import { isValidName } from './spec/names.js';
import type { StatusStore } from './state/status-store.js';
import type { Storage } from './storage/storage.js';
import { Importer } from './templates/importer.js';
import { TemplateVersions } from './templates/template-versions.js';
import { Trash } from './trash/trash.js';
import { WallClock } from './util/wall-clock.js';

export interface ControllerParts {
  readonly config: ControllerConfig;
  readonly log: Logger;
  /** Already started: its initial scan is complete before the controller starts. */
  readonly desired: DesiredState;
  readonly storage: Storage;
  readonly runtime: Runtime;
  readonly store: StatusStore;
  readonly layout: Layout;
  readonly metrics?: Metrics;
  /** The engines by name; tests give fakes. @default the real ones (engine/engines.ts) */
  readonly engineFor?: (name: EngineName) => Engine;
  /** The admin password of a template's versions (Kubernetes mode's node agent). @default random */
  readonly templateAdminPassword?: (template: string) => string;
}

/**
 * The loop: keys from the desired state, from runtime events and from a periodic resync go into one
 * work queue; each is reconciled by the reconciler of its kind. Nothing here acts on resources.
 */
export class Controller {
  readonly parts: ControllerParts;
  readonly versions: TemplateVersions;
  /** Decides removals of databases and templates alike: one mass removal is one held set. */
  readonly guard: DeletionGuard;
  readonly trash: Trash;
  readonly clock: WallClock;
  /** Restores asked for by name, until the database's reconcile takes them. */
  readonly restores = new Map<string, string>();
  readonly #queue: WorkQueue<ObjectKey>;
  readonly #templates: TemplateReconciler;
  readonly #databases: DatabaseReconciler;
  readonly #idle: IdleWatch;
  /**
   * Warm pools have a queue of their own (keys: template names), one at a time: refills run in the
   * background and never take a slot a create or an import waits for.
   */
  readonly #pools: WorkQueue<string>;
  readonly #poolReconciler: PoolReconciler;
  readonly pool: PoolMembers;
  readonly #log: Logger;
  #unsubscribe: (() => void)[] = [];
  #resync: NodeJS.Timeout | undefined;

  constructor(parts: ControllerParts) {
    this.parts = parts;
    const { config, log, desired, storage, runtime, store, layout } = parts;
    this.#log = log.child({ component: 'controller' });
    this.versions = new TemplateVersions(layout);
    this.guard = new DeletionGuard({
      limit: config.deletionGuardLimit,
      max: config.deletionGuardMax,
      fraction: config.deletionGuardFraction,
      graceMs: config.removalGraceSeconds * 1000,
      inventory: () => this.#inventory(),
      log: this.#log,
    });
    this.trash = new Trash({
      layout,
      storage,
      log: this.#log,
      retentionSeconds: config.trashRetentionSeconds,
      minFreePercent: config.trashMinFreePercent,
    });
    this.clock = new WallClock({
      // Two resync periods: the pass after the step surely sees the pause (a reconcile may wait a period).
      pauseMs: 2 * config.resyncSeconds * 1000,
      onStep: (stepMs) => {
        this.#log.warn({ stepMs }, 'the wall clock stepped: expiry waits one resync pass');
        parts.metrics?.clockSteps.inc();
      },
    });
    this.#queue = new WorkQueue<ObjectKey>({
      log: this.#log,
      concurrency: config.reconcileConcurrency,
      observe: (key, result, seconds) => {
        const kind = parseKey(key).kind;
        parts.metrics?.reconciles.inc({ kind, result });
        parts.metrics?.reconcileSeconds.observe({ kind }, seconds);
      },
      reconcile: async (key, keyLog) => {
        const { kind, name } = parseKey(key);
        if (kind !== 'Template') return this.#databases.reconcile(name, keyLog);
        try {
          return await this.#templates.reconcile(name, keyLog);
        } finally {
          // A new current version drains the old members; a changed pool size takes effect.
          this.#pools.add(name);
        }
      },
    });
    this.#pools = new WorkQueue<string>({
      log: this.#log.child({ queue: 'pool' }),
      concurrency: 1,
      reconcile: (template, keyLog) => this.#poolReconciler.reconcile(template, keyLog),
    });
    this.pool = new PoolMembers(layout);
    // What both reconcilers are made of: the interfaces, never the loop.
    const shared = {
      config,
      desired,
      store,
      layout,
      storage,
      runtime,
      versions: this.versions,
      trash: this.trash,
      restores: this.restores,
      clock: this.clock,
      guard: this.guard,
      log: this.#log,
      engineFor: parts.engineFor ?? engineFor,
      ...(parts.metrics ? { metrics: parts.metrics } : {}),
    };
    this.#templates = new TemplateReconciler({
      ...shared,
      importer: new Importer({
        layout,
        storage,
        runtime,
        versions: this.versions,
        log,
        ...(parts.templateAdminPassword ? { adminPasswordFor: parts.templateAdminPassword } : {}),
      }),
      enqueue: (key) => this.#queue.add(key),
    });
    this.#databases = new DatabaseReconciler({
      ...shared,
      pool: this.pool,
      onClaimed: (template) => this.#pools.add(template),
    });
    this.#idle = new IdleWatch({
      desired,
      store,
      runtime,
      engineFor: shared.engineFor,
      log: this.#log.child({ component: 'idle-watch' }),
      enqueue: (key) => this.#queue.add(key),
      pollMs: config.idlePollSeconds * 1000,
    });
    this.#poolReconciler = new PoolReconciler({
      ...shared,
      pool: this.pool,
      onAdoptedServerDown: (database) => this.#queue.add(`Database/${database}`),
    });
  }

  /** Asks for a reconcile of one object now. */
  enqueue(key: ObjectKey): void {
    this.#queue.add(key);
  }

  get importing(): ReadonlySet<string> {
    return this.#templates.importing;
  }

  async start(): Promise<void> {
    const { desired, runtime, config } = this.parts;
    if (!desired.synced)
      throw new Error('the desired state must finish its initial scan before the controller starts');
    this.#unsubscribe.push(desired.subscribe((keys) => keys.forEach((k) => this.#queue.add(k))));
    this.#unsubscribe.push(
      runtime.servers.watch((event) => {
        if (event.action === 'reconnect') void this.resync();
        else if (event.role === 'Pool') {
          const member = parseMemberOwner(event.owner);
          if (member) this.#pools.add(member.template);
        } else if (isValidName(event.owner))
          this.#queue.add(`${event.role === 'Import' ? 'Template' : 'Database'}/${event.owner}`);
      }),
    );
    this.#unsubscribe.push(this.#recordHolds());
    this.clock.start();
    await this.resync();
    this.#resync = setInterval(() => void this.resync(), config.resyncSeconds * 1000);
    this.#resync.unref();
    this.#idle.start();
    this.#log.info({ runtime: runtime.name, storage: this.parts.storage.name }, 'controller started');
  }

  /**
   * Each object that joins a held mass removal gets a DeletionHeld event (once per hold): the guard
   * decides for all reconcilers at once, so it is told here rather than by each of them.
   */
  #recordHolds(): () => void {
    let told = new Set<ObjectKey>();
    return this.guard.subscribe((held) => {
      const now = new Set(held);
      for (const key of held) {
        if (told.has(key)) continue;
        void this.parts.store
          .event(
            key,
            'Warning',
            'DeletionHeld',
            `removal held with ${held.length - 1} other(s) as a mass removal: restore the specs, or confirm with \`myaas confirm-deletions\``,
          )
          .catch(() => undefined);
      }
      told = now;
    });
  }

  /** Enqueues every key that is desired or exists: lost events and orphans are found here. */
  async resync(): Promise<void> {
    try {
      const keys = new Set<ObjectKey>(this.parts.desired.list().map((r) => r.key));
      for (const key of await this.#discoveredKeys()) keys.add(key);
      for (const key of keys) this.#queue.add(key);
      const pools = new Set(await this.pool.templates());
      for (const key of keys) if (key.startsWith('Template/')) pools.add(parseKey(key).name);
      for (const template of pools) if (isValidName(template)) this.#pools.add(template);
      await this.guard.refresh();
      await this.trash.sweep();
    } catch (error) {
      this.#log.warn({ err: error }, 'resync failed; trying again at the next one');
    }
  }

  /** Waits until no reconcile is queued or running (tests and benchmarks). */
  async onIdle(): Promise<void> {
    await this.#queue.onIdle();
    await this.#pools.onIdle();
  }

  /** Stops reconciling; servers keep running. */
  async stop(): Promise<void> {
    clearInterval(this.#resync);
    await this.#idle.stop();
    this.clock.stop();
    for (const off of this.#unsubscribe) off();
    this.#unsubscribe = [];
    // No reconcile runs after this, so none starts an import after the imports are stopped.
    await this.#queue.stop();
    await this.#pools.stop();
    await this.#templates.stop();
    await this.parts.store.flush();
    this.#log.info('controller stopped; databases keep running');
  }

  async #discoveredKeys(): Promise<ObjectKey[]> {
    const { layout, runtime, store } = this.parts;
    const keys: ObjectKey[] = [...store.keys('Template'), ...store.keys('Database')];
    for (const name of await listNames(layout.templatesDir)) keys.push(`Template/${name}`);
    for (const entry of await listNames(layout.workDir, true)) keys.push(`Template/${entry.split('@')[0]}`);
    for (const name of await listNames(layout.databasesDir)) keys.push(`Database/${name}`);
    // A branch point left by a branch removed while the controller was down goes too.
    for (const name of await listNames(layout.branchesDir)) keys.push(`Database/${name}`);
    for (const server of await runtime.servers.list()) {
      if (server.role !== 'Pool' && isValidName(server.owner))
        keys.push(`${server.role === 'Import' ? 'Template' : 'Database'}/${server.owner}`);
    }
    return keys;
  }

  /**
   * What exists (clones, servers, template versions) and what of it is unwanted now: no spec (while
   * the specs can be trusted), or a database past its expiry (while the clock can be trusted).
   */
  async #inventory(): Promise<DeletionInventory> {
    const { layout, runtime, desired, store } = this.parts;
    const existing = new Set<ObjectKey>();
    for (const name of await listNames(layout.databasesDir)) existing.add(`Database/${name}`);
    for (const server of await runtime.servers.list())
      if (server.role === 'Database' && isValidName(server.owner)) existing.add(`Database/${server.owner}`);
    for (const name of await listNames(layout.templatesDir)) existing.add(`Template/${name}`);
    const unwanted = new Set<ObjectKey>();
    const expiryTrusted = this.clock.expiryPausedFor() === 0;
    const now = Date.now();
    for (const key of existing) {
      const declared = desired.get(key);
      if (!declared) {
        if (desired.absenceTrusted(key)) unwanted.add(key);
        continue;
      }
      if (declared.object.kind !== 'Database' || !expiryTrusted) continue;
      const record = store.get(key as `Database/${string}`)?.record;
      // Idle under a Delete policy counts like an expiry (one mass removal is one held set).
      if (record?.idleDeleteDue && !record.expired && !declared.object.spec.protected) unwanted.add(key);
      const expiresAt = record && !record.expired ? expiryOf(declared.object.spec, record) : undefined;
      if (expiresAt !== undefined && expiresAt <= now && !declared.object.spec.protected) unwanted.add(key);
    }
    return { existing, unwanted };
  }

  /** Asks for a database to come back from the trash (an entry id); its next reconcile takes it. */
  requestRestore(name: string, entryId: string): void {
    this.restores.set(name, entryId);
    this.#queue.add(`Database/${name}`);
  }

  /**
   * A start request (`myaas start`, the API's start route, a seed POST) for a database the idle watch
   * stopped: clears the hold, saved before the reconcile that starts it, so a restart keeps the request.
   * False when it was not stopped for idleness.
   */
  async requestStart(name: string, by: string): Promise<boolean> {
    if (!(await clearIdleStop(this.parts.store, name, by))) return false;
    this.#queue.add(`Database/${name}`);
    return true;
  }

  /** A user deleted this object by name: it is removed at once and goes to the trash as `Deleted`. */
  markExplicitDeletion(key: ObjectKey): void {
    this.guard.markExplicit(key);
  }
}

/** Entries of a folder that are valid object names (or `<name>@...` work volumes), none when missing. */
async function listNames(dir: string, work = false): Promise<string[]> {
  try {
    const entries = await readdir(dir);
    return entries.filter((e) => isValidName(work ? e.split('@')[0] : e));
  } catch {
    return [];
  }
}
