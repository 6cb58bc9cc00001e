import { rm, symlink } from 'node:fs/promises';
import { copyBranchSource, findBranchSource, isUnavailable, lineageOf } from '../branches/branch-source.js';
import { DEFAULT_ENGINE, defaultImage } from '../engine/defaults.js';
import type { Endpoint, Engine } from '../engine/engine.js';
import type { Logger } from '../log.js';
import {
  type DatabaseObject,
  type DatabasePhase,
  type DatabaseRecord,
  type DatabaseSpec,
  type DatabaseStatus,
  type DeclaredSpec,
  OWNER_ANNOTATION,
  RESET_ANNOTATION,
  type ServerState,
  type TrashReason,
  expiryOf,
  setCondition,
} from '../objects/index.js';
import type { PoolMembers } from '../pool/pool-members.js';
import { type ServerInfo, type ServerSpec, servesDatabase } from '../runtime/runtime.js';
import { startAndWaitReady } from '../runtime/start-and-wait.js';
import { formatDuration } from '../spec/duration.js';
import { explainFailure } from '../util/disk-space.js';
import { faultPoint } from '../util/fault-points.js';
import { newSecret } from '../util/files.js';
import type { ReconcilerDeps } from './reconciler-deps.js';
import type { ReconcileResult } from './work-queue.js';

export interface DatabaseReconcilerDeps extends ReconcilerDeps {
  /** Seconds a running server gets to shut down cleanly. @default 60 */
  readonly stopTimeoutSeconds?: number;
  /** Warm pools: a fresh clone claims a ready member of the current version when there is one. */
  readonly pool?: PoolMembers;
  /** Told when a member was claimed: its pool refills. */
  readonly onClaimed?: (template: string) => void;
}

/** A failure already put into status: not to be overwritten by the generic report. */
class ReportedFailure extends Error {}

/** A server that exited at start or never got ready: reported in status as ServerFailed. */
class StartFailure extends Error {}

/** What one pass found for a database whose spec exists. */
interface Observed {
  readonly key: `Database/${string}`;
  readonly db: DatabaseObject;
  readonly status: DatabaseStatus;
  /** Its servers as listed at the start of the pass (emptied once they are removed). */
  readonly servers: ServerInfo[];
  readonly cloneExists: boolean;
  /** The template whose pool member this pass claimed: its refill waits until the database is Ready. */
  claimedFrom?: string;
}

/** Longest wait between two looks at a healthy database (the resync covers the rest). */
const MAX_REQUEUE_MS = 3600_000;

/**
 * Reconciles `Database/<name>`: clones the template's current version, runs a server on the clone,
 * gives it its own credentials, stops, restarts, resets, expires and removes it. Every pass looks at
 * what exists (servers by label, the clone by path) and acts on the difference.
 */
export class DatabaseReconciler {
  readonly #deps: DatabaseReconcilerDeps;

  constructor(deps: DatabaseReconcilerDeps) {
    this.#deps = deps;
  }

  async reconcile(name: string, log: Logger): Promise<ReconcileResult> {
    try {
      return await this.#reconcile(name, log);
    } catch (error) {
      if (!(error instanceof ReportedFailure))
        await this.#reportUnexpected(`Database/${name}`, error as Error);
      throw error;
    }
  }

  /** Puts an error nobody reported (a failed clone, a full disk) into status; the queue retries. */
  async #reportUnexpected(key: `Database/${string}`, error: Error): Promise<void> {
    const stored = this.#deps.store.get(key);
    if (!stored || !this.#deps.desired.get(key)) return;
    const message = await explainFailure(this.#deps.layout.root, error.message);
    // The store keeps the status in memory even when it cannot be written (the disk may be full).
    await this.#notReady(key, stored.status, stored.record, 'Failed', 'ReconcileFailed', message).catch(
      () => undefined,
    );
  }

  async #reconcile(name: string, log: Logger): Promise<ReconcileResult> {
    const { desired, store, layout, runtime } = this.#deps;
    const key = `Database/${name}` as const;
    const unreadable = store.unreadable(key);
    if (unreadable) {
      // Never taken for a new database (new passwords would lock it out) nor removed: held as it is.
      log.error(
        { unreadable },
        'state file unreadable and no copy of the record: the database is held with its data (restore the file from a backup, or delete the database explicitly: it goes to the trash)',
      );
      return { requeueAfterMs: 60_000 };
    }
    const spec = desired.get(key);
    const stored = store.get(key);
    if (stored?.record.claim) await this.#resolveClaim(name, stored.status, stored.record, log);
    const adopted = stored?.record.adoptedServer;
    const servers = (await runtime.servers.list()).filter((s) => servesDatabase(s, name, adopted));
    const cloneExists = await this.#deps.storage.exists(layout.databaseDir(name));

    if (!spec) {
      if (!desired.absenceTrusted(key)) return undefined;
      return this.#removeUnwanted(name, stored?.record, servers, cloneExists, log);
    }
    const db = spec.object;
    const status: DatabaseStatus = stored?.status ?? { phase: 'Pending', conditions: [] };
    status.observedGeneration = spec.generation;
    status.template = db.spec.template ?? stored?.record.template;
    const observed: Observed = { key, db, status, servers, cloneExists };

    const restoring = this.#deps.restores.has(name);
    // Expired earlier and the spec has not changed since: stays expired, resources stay gone.
    if (stored?.record.expired && stored.record.expired.digest === spec.digest && !restoring) {
      if (servers.length > 0 || cloneExists)
        await this.#retire(name, stored.record, status, servers, cloneExists, 'Expired');
      return undefined;
    }
    // A changed spec after expiry gives a fresh database.
    const fresh = !stored || Boolean(stored.record.expired);
    const record = fresh ? this.#newRecord(db) : stored.record;
    record.protected = db.spec.protected;
    record.lastSpec = db.spec;
    record.specFile = spec.file;
    record.owner = db.metadata.annotations[OWNER_ANNOTATION];
    if (!restoring) {
      const expiry = await this.#expireIfDue(observed, record, spec);
      if (expiry) return expiry === 'expired' ? undefined : { requeueAfterMs: expiry.retryAfterMs };
    }

    const cloned = await this.#ensureClone(observed, record, fresh, log);
    if (cloned) return cloned;
    status.templateVersion = record.templateVersion;
    status.engine = record.engine ?? DEFAULT_ENGINE;
    record.createdAt ??= Date.now();
    status.createdAt = unchanged(status.createdAt, new Date(record.createdAt).toISOString());
    const expiresAt = expiryOf(db.spec, record);
    status.expiresAt = unchanged(status.expiresAt, expiresAt ? new Date(expiresAt).toISOString() : undefined);

    if (db.spec.state === 'Stopped') {
      // The spec takes over from an idle stop: it starts again when the spec says Running.
      if (record.idleStopped) this.#clearIdleStop(status, record, 'SpecStopped', 'spec.state is Stopped');
      await this.#stopServers(observed, record);
      return this.#requeueForExpiry(expiresAt);
    }
    if (record.idleStopped) {
      // Held stopped whatever spec.state says, until a start request clears it (Controller.requestStart).
      await this.#stopServers(observed, record, record.idleStopped);
      return this.#requeueForExpiry(expiresAt);
    }
    try {
      await this.#run(observed, record, log);
    } finally {
      // Not before: a refill (a clone and a server start) would take CPU from the claim's first login.
      if (observed.claimedFrom) this.#deps.onClaimed?.(observed.claimedFrom);
    }
    return this.#requeueForExpiry(expiresAt);
  }

  /** Credentials and bookkeeping for a database seen for the first time (or again after expiry). */
  #newRecord(db: DatabaseObject): DatabaseRecord {
    return {
      template: db.spec.template ?? '',
      user: { user: this.#deps.config.databaseUser, password: newSecret() },
      adminPassword: newSecret(),
      configured: false,
      resetToken: db.metadata.annotations[RESET_ANNOTATION] ?? '',
      protected: db.spec.protected,
    };
  }

  /**
   * Past its expiry: the server stops and the clone goes to the trash (never a protected one's).
   * Expiry is a removal like any other: the deletion guard may hold it, and it waits while the wall
   * clock just stepped. Says 'expired' when it expired now, or when to look again.
   */
  async #expireIfDue(
    observed: Observed,
    record: DatabaseRecord,
    spec: DeclaredSpec,
  ): Promise<'expired' | { retryAfterMs: number } | undefined> {
    const { key, db, status } = observed;
    const now = Date.now();
    const expiresAt = expiryOf(db.spec, record);
    status.expiresAt = unchanged(status.expiresAt, expiresAt ? new Date(expiresAt).toISOString() : undefined);
    // The idle watch found it unused under a Delete policy: removed as an expiry is, through the guard.
    const idle = record.idleDeleteDue;
    if (!idle && (expiresAt === undefined || now < expiresAt)) return undefined;
    if (db.spec.protected) {
      record.idleDeleteDue = undefined;
      status.conditions = setCondition(
        status.conditions,
        'Expired',
        'False',
        'Protected',
        idle
          ? 'idle past its policy but protected: not removed'
          : 'past its expiry but protected: not removed',
      );
      return undefined;
    }
    const paused = this.#deps.clock.expiryPausedFor();
    const verdict = paused > 0 ? undefined : await this.#deps.guard.check(key);
    if (paused > 0 || !verdict?.allowed) {
      const why =
        paused > 0
          ? 'the wall clock just stepped: expiry waits one pass to be sure'
          : (verdict?.message ?? 'expiry held');
      status.conditions = setCondition(status.conditions, 'Expired', 'False', 'ExpiryHeld', why);
      await this.#deps.store.save(key, status, record);
      return { retryAfterMs: paused > 0 ? paused : (verdict?.retryAfterMs ?? 5_000) };
    }
    // Not carried into the trash: a restore must not be deleted again at once.
    record.idleDeleteDue = undefined;
    record.idleStopped = undefined;
    const reason = idle && (expiresAt === undefined || now < expiresAt) ? 'IdleDeleted' : 'Expired';
    await this.#retire(db.metadata.name, record, status, observed.servers, observed.cloneExists, reason);
    record.expired = { at: now, digest: spec.digest };
    record.configured = false;
    status.phase = 'Expired';
    status.expiredAt = new Date(now).toISOString();
    status.message =
      reason === 'IdleDeleted'
        ? `deleted after ${formatDuration(idle!.afterSeconds)} without a client session (idle policy Delete); ${this.#trashNote(db.metadata.name)}change the spec or re-add it for a fresh one`
        : `expired at ${status.expiresAt}; ${this.#trashNote(db.metadata.name)}change ttl/expiresAt or re-add the spec for a fresh one`;
    status.idle = undefined;
    status.connection = undefined;
    status.server = undefined;
    status.conditions = setCondition(status.conditions, 'Ready', 'False', reason, status.message);
    await this.#deps.store.save(key, status, record);
    await this.#deps.store.event(key, 'Normal', reason, status.message);
    return 'expired';
  }

  /**
   * A fresh clone of the template's current version when there is none, or when a reset asks for one
   * (same name, port and credentials). Returns a result when it has to wait for the template.
   */
  async #ensureClone(
    observed: Observed,
    record: DatabaseRecord,
    fresh: boolean,
    log: Logger,
  ): Promise<ReconcileResult | undefined> {
    const { key, db, status, servers } = observed;
    // Edge-triggered: a value not acted on yet fires; the annotation's absence (an apply of a file
    // without it) never does.
    const resetToken = db.metadata.annotations[RESET_ANNOTATION];
    const reset = observed.cloneExists && Boolean(resetToken) && resetToken !== record.resetToken;
    if (observed.cloneExists && !reset) return undefined;
    if (!observed.cloneExists && (await this.#restoreFromTrash(observed, record, fresh, log)))
      return undefined;
    if (db.spec.source) return this.#ensureBranch(observed, record, reset, resetToken, log);
    const template = db.spec.template ?? '';
    const version = await this.#deps.versions.current(template);
    if (!version) {
      // A template that is not declared at all is a mistake to show, not a wait to sit through.
      if (!this.#deps.desired.get(`Template/${template}`))
        return this.#pending(
          key,
          status,
          record,
          `template "${template}" does not exist: declare it (kind: Template) or put ${template}.sql in the dumps dir, or change spec.template (\`myaas get templates\` lists them)`,
          'TemplateNotFound',
        );
      const why = reset
        ? `reset waits: template ${template} has no ready version`
        : `waiting for template ${template} to have a ready version`;
      return this.#pending(key, status, record, why);
    }
    if (reset) log.info({ from: record.templateVersion, to: version.version }, 'resetting to the template');
    await this.#answerReset(observed, record, reset, resetToken);
    if (!reset && (await this.#claimMember(observed, record, template, version.version, log)))
      return undefined;
    record.template = template;
    record.templateVersion = version.version;
    record.templateAdminPassword = version.adminPassword;
    record.database = version.database;
    record.image = version.image;
    record.engine = version.engine;
    await this.#cloneData(
      observed,
      record,
      this.#deps.layout.versionDir(template, version.version),
      `${template}/${version.version}`,
    );
    servers.length = 0;
    return undefined;
  }

  /**
   * A fresh database takes a ready warm pool member of the current version when there is one: its clone
   * moves to databases/<name> and its running server serves the database (named by id in the record;
   * the first login then replaces the member's throwaway credentials with the database's own). A journal
   * makes it crash-safe: the claim is saved before the move, so a restart rolls forward when the clone
   * moved and forgets the claim otherwise (see resolveClaim): a member or a database, never both.
   * Only for a database the member fits: no fixed or previous port, the default memory limit, running.
   */
  async #claimMember(
    observed: Observed,
    record: DatabaseRecord,
    template: string,
    version: string,
    log: Logger,
  ): Promise<boolean> {
    const { key, db, status, servers } = observed;
    const { pool, store, storage, layout, runtime, config } = this.#deps;
    const fits =
      db.spec.port === undefined &&
      record.port === undefined &&
      db.spec.state === 'Running' &&
      (db.spec.memoryMiB ?? config.databaseMemoryMiB) === config.databaseMemoryMiB;
    if (!pool || !fits) return false;
    const started = performance.now();
    const member = await pool.take(template, version);
    if (!member) return false;
    try {
      const server = await runtime.servers.inspect(member.server!);
      if (!server?.running) return false;
      record.template = template;
      record.templateVersion = version;
      // The member's admin password is what the first login logs in with, then replaces.
      record.templateAdminPassword = member.adminPassword;
      record.database = member.database;
      record.image = member.image;
      record.engine = member.engine;
      record.configured = false;
      record.createdAt ??= Date.now();
      record.claim = { template, member: member.id, server: server.id };
      status.phase = 'Cloning';
      status.createdAt = new Date(record.createdAt).toISOString();
      status.cloneMethod = member.cloneMethod;
      await store.save(key, status, record);
      const journaled = performance.now();
      faultPoint('pool:after-claim-intent');
      await storage.move(layout.poolMemberDir(template, member.id), layout.databaseDir(db.metadata.name));
      faultPoint('pool:after-claim-move');
      await linkMovedClone(layout.poolMemberDir(template, member.id), layout.databaseDir(db.metadata.name));
      record.adoptedServer = server.id;
      await pool.forget(template, member.id);
      // Saved with the next status (Ready); a crash before that rolls forward from the claim.
      record.claim = undefined;
      for (const stale of servers) await runtime.servers.remove(stale.id);
      servers.length = 0;
      servers.push(server);
      // Where a claim's time goes (before the first login): finding the member, the journal's write, the rest.
      const ms = (from: number, to: number) => Math.round((to - from) * 10) / 10;
      log.info(
        {
          member: member.id,
          server: server.id,
          takeMs: ms(started, journaled),
          moveMs: ms(journaled, performance.now()),
        },
        'claimed a warm pool member',
      );
      void store.event(key, 'Normal', 'Claimed', `took a warm pool member of ${template}/${version}`);
      observed.claimedFrom = template;
      return true;
    } finally {
      pool.release(template, member.id);
    }
  }

  /** After a restart mid-claim: roll forward when the member's clone moved here, else forget the claim. */
  async #resolveClaim(
    name: string,
    status: DatabaseStatus,
    record: DatabaseRecord,
    log: Logger,
  ): Promise<void> {
    const claim = record.claim!;
    const { storage, layout, pool, store } = this.#deps;
    if (await storage.exists(layout.databaseDir(name))) {
      log.info({ member: claim.member }, 'rolling a claim forward: the member clone moved here');
      record.adoptedServer = claim.server;
      await linkMovedClone(layout.poolMemberDir(claim.template, claim.member), layout.databaseDir(name));
      if (pool) await pool.forget(claim.template, claim.member);
      else await rm(layout.poolMemberRecord(claim.template, claim.member), { force: true });
    } else {
      log.info(
        { member: claim.member },
        'a claim that did not move the clone: the member stays; a fresh clone instead',
      );
    }
    record.claim = undefined;
    await store.save(`Database/${name}`, status, record);
  }

  /**
   * Before a fresh clone: a reset puts the data it replaces into the trash, like any removal, and is
   * then acted on. A fresh clone answers any reset asked for so far (a crash after the old clone went
   * to the trash, before the new token was saved, must not reset the new clone once more).
   */
  async #answerReset(
    observed: Observed,
    record: DatabaseRecord,
    reset: boolean,
    resetToken: string | undefined,
  ): Promise<void> {
    const { db, status, servers } = observed;
    if (reset) {
      await this.#retire(db.metadata.name, record, status, servers, true, 'Reset');
      // A fresh clone is asked for to be used: an idle stop ends with it.
      if (record.idleStopped) this.#clearIdleStop(status, record, 'Reset', 'reset to a fresh clone');
      record.resetToken = resetToken ?? '';
      status.lastReset = { token: record.resetToken, at: new Date().toISOString() };
    } else if (resetToken) {
      record.resetToken = resetToken;
    }
  }

  /**
   * A branch: its data is a copy of another database, taken once at a consistent point in time while
   * that database runs (the branch point, kept read-only); the branch is a clone of that point, and a
   * reset clones the same point again. Returns a result when it has to wait for the source.
   */
  async #ensureBranch(
    observed: Observed,
    record: DatabaseRecord,
    reset: boolean,
    resetToken: string | undefined,
    log: Logger,
  ): Promise<ReconcileResult | undefined> {
    const { key, db, status, servers } = observed;
    const { storage, layout } = this.#deps;
    const name = db.metadata.name;
    const point = layout.branchPointDir(name);
    if (!record.branch || !(await storage.exists(point))) {
      if (reset && record.branch)
        return this.#pending(
          key,
          status,
          record,
          `reset waits: the branch point of ${record.branch.database} (${record.branch.at}) is gone (it is not kept in the trash): delete this database and branch it again for a new point`,
          'BranchPointMissing',
        );
      const waiting = await this.#takeBranchPoint(observed, record, log);
      if (waiting) return waiting;
    }
    const branch = record.branch!;
    if (reset) log.info({ source: branch.database, at: branch.at }, 'resetting to the branch point');
    await this.#answerReset(observed, record, reset, resetToken);
    status.branchedFrom = branch;
    status.template = record.template;
    await this.#cloneData(observed, record, point, `the branch point of ${branch.database} (${branch.at})`);
    servers.length = 0;
    return undefined;
  }

  /**
   * Copies the source database's data as it is now into the branch point: from its running server at
   * a consistent point (see takeBranchPoint), or straight from its datadir when it is stopped (a clean
   * shutdown left it consistent). The branch inherits the source's lineage and first-login password.
   */
  async #takeBranchPoint(
    observed: Observed,
    record: DatabaseRecord,
    log: Logger,
  ): Promise<ReconcileResult | undefined> {
    const { key, db, status } = observed;
    const { store, storage, layout } = this.#deps;
    const name = db.metadata.name;
    const sourceName = db.spec.source!.database;
    const deps = { ...this.#deps, log };
    const source = await findBranchSource(deps, sourceName, 'spec.source.database');
    if (isUnavailable(source))
      return this.#pending(
        key,
        status,
        record,
        source.message,
        source.reason,
        source.reason === 'SourceNotFound' ? 5_000 : 2_000,
      );
    status.phase = 'Cloning';
    await store.save(key, status, record);
    // A partial left by an earlier version's clone-then-seal, or a point whose lineage was never
    // recorded (a crash right after the copy): both are remade from the source as it is now.
    await storage.remove(layout.branchPointPartial(name));
    await storage.remove(layout.branchPointDir(name));
    const taken = await copyBranchSource(deps, source, layout.branchPointDir(name), 'readOnly');
    record.branch = lineageOf(source, taken);
    record.template = source.record.template;
    record.templateVersion = source.record.templateVersion;
    // The copy has the source's accounts: the first login uses its admin password, then replaces it.
    record.templateAdminPassword = source.record.adminPassword;
    record.database = source.record.database;
    record.image = source.record.image;
    record.engine = source.record.engine;
    status.branchedFrom = record.branch;
    await store.save(key, status, record);
    await store.event(
      key,
      'Normal',
      'Branched',
      `branch point of ${sourceName} taken (${taken.method}; writes held ${taken.lockMs} ms, server paused ${taken.pausedMs} ms)`,
    );
    return undefined;
  }

  /** A fresh writable clone of `source` (a template version or a branch point) as the database's data. */
  async #cloneData(observed: Observed, record: DatabaseRecord, source: string, what: string): Promise<void> {
    const { key, db, status, servers } = observed;
    const { store, storage, runtime, layout } = this.#deps;
    const clone = layout.databaseDir(db.metadata.name);
    record.configured = false;
    record.createdAt ??= Date.now();
    status.phase = 'Cloning';
    status.createdAt = new Date(record.createdAt).toISOString();
    // Recorded before the clone exists, so a crash here leaves credentials to adopt the clone with.
    await store.save(key, status, record);
    faultPoint('database:after-record');
    for (const server of servers) await runtime.servers.remove(server.id);
    await storage.remove(clone);
    status.cloneMethod = await storage.clone(source, clone);
    await this.#deps.engineFor(record.engine ?? DEFAULT_ENGINE).admin.prepareClone(clone);
    await store.event(key, 'Normal', 'Cloned', `cloned ${what} (${status.cloneMethod})`);
    faultPoint('database:after-clone');
  }

  /**
   * state: Stopped, or stopped by the idle watch (`idle`): running servers shut down cleanly, the data
   * kept. An idle stop says so, and how to start it again.
   */
  async #stopServers(
    observed: Observed,
    record: DatabaseRecord,
    idle?: NonNullable<DatabaseRecord['idleStopped']>,
  ): Promise<void> {
    const { key, status, servers, db } = observed;
    const { runtime } = this.#deps;
    const wasRunning = servers.some((s) => s.running);
    for (const server of servers.filter((s) => s.running)) {
      await runtime.servers.stop(server.id, this.#deps.stopTimeoutSeconds ?? 60);
    }
    const wasStopped = status.phase === 'Stopped';
    status.phase = 'Stopped';
    const name = db.metadata.name;
    const message = idle
      ? `stopped after ${formatDuration(idle.afterSeconds)} without a client session (at ${new Date(idle.at).toISOString()}); data kept: \`myaas start ${name}\` (POST /api/v1/databases/${name}/start) starts it`
      : 'stopped; data kept (set state: Running to start it)';
    status.message = unchanged(status.message, message);
    const stopped = servers[0] && (await runtime.servers.inspect(servers[0].id));
    const server = stopped ? serverState(stopped) : undefined;
    if (!sameServerState(status.server, server)) status.server = server;
    status.conditions = setCondition(
      status.conditions,
      'Ready',
      'False',
      idle ? 'IdleStopped' : 'Stopped',
      message,
    );
    if (idle)
      status.conditions = setCondition(status.conditions, 'IdleStopped', 'True', 'NoClientSessions', message);
    await this.#deps.store.save(key, status, record);
    if (!wasStopped) await this.#deps.store.event(key, 'Normal', 'Stopped', 'stopped; data kept');
    if (idle && wasRunning) await this.#deps.store.event(key, 'Normal', 'IdleStopped', message);
  }

  /** An idle stop ends (a start request, the spec saying Stopped, a reset): the condition says why. */
  #clearIdleStop(status: DatabaseStatus, record: DatabaseRecord, reason: string, message: string): void {
    record.idleStopped = undefined;
    status.conditions = setCondition(status.conditions, 'IdleStopped', 'False', reason, message);
  }

  /** One running server on the clone, ready, with this database's own credentials. */
  async #run(observed: Observed, record: DatabaseRecord, log: Logger): Promise<void> {
    const { key, status } = observed;
    const { runtime, config } = this.#deps;
    const engine = this.#deps.engineFor(record.engine ?? DEFAULT_ENGINE);
    const kept = await this.#keepOneServer(observed, record);
    const started = Date.now();
    const deadline = started + config.readyTimeoutSeconds * 1000;
    let server: ServerInfo;
    try {
      server = await startAndWaitReady(
        runtime,
        async () => kept ?? (await this.#createServer(observed, record, engine, log)),
        (endpoint, alive) => this.#login(observed, record, engine, endpoint, deadline, alive),
        (reason, stage) =>
          new StartFailure(stage === 'start' ? reason : `server did not become ready: ${reason}`),
      );
    } catch (error) {
      if (error instanceof StartFailure) return this.#fail(key, status, record, error.message);
      throw error;
    }
    const readyMs = Date.now() - started;
    this.#deps.metrics?.cloneToReadySeconds.observe(readyMs / 1000);
    await this.#markReady(observed, record, server, readyMs);
  }

  /**
   * Keeps the running server of the current version (on the fixed port, if any) and removes the rest: a
   * stale one (another version, a duplicate), and a stopped or dead one, which is made again on the
   * same clone and port (a restart of a container would get a new port from Docker).
   */
  async #keepOneServer(observed: Observed, record: DatabaseRecord): Promise<ServerInfo | undefined> {
    const fixedPort = observed.db.spec.port;
    let kept: ServerInfo | undefined;
    for (const candidate of observed.servers.sort(
      (a, b) => Number(b.running) - Number(a.running) || b.createdAt - a.createdAt,
    )) {
      const wrongPort = fixedPort !== undefined && candidate.running && candidate.hostPort !== fixedPort;
      const keep = candidate.running && candidate.templateVersion === record.templateVersion && !wrongPort;
      if (!kept && keep) kept = candidate;
      else await this.#deps.runtime.servers.remove(candidate.id);
    }
    return kept;
  }

  /** A new server on the clone: on the spec's port, else the one it had before, else any. */
  async #createServer(
    observed: Observed,
    record: DatabaseRecord,
    engine: Engine,
    log: Logger,
  ): Promise<ServerInfo> {
    const { db, status } = observed;
    const { runtime, config, layout } = this.#deps;
    status.phase = 'Starting';
    // A claimed member's server, if any, is gone now: this one is the database's own.
    record.adoptedServer = undefined;
    const spec: ServerSpec = {
      role: 'Database',
      owner: db.metadata.name,
      template: record.template,
      templateVersion: record.templateVersion ?? '',
      image: record.image ?? defaultImage(config, record.engine ?? DEFAULT_ENGINE),
      dataDir: layout.databaseDir(db.metadata.name),
      engine,
      args: engine.image.serveArgs(),
      // The spec's own limit (the API sets it from the owner's quota), else the controller's default.
      ...((db.spec.memoryMiB ?? config.databaseMemoryMiB)
        ? { memoryMiB: db.spec.memoryMiB ?? config.databaseMemoryMiB }
        : {}),
    };
    const port = db.spec.port ?? record.port;
    if (db.spec.port !== undefined) {
      // Said plainly: on the process runtime a second server on a held port fails to bind, and the
      // login meant for it reaches the holder ("access denied" would be all the status said).
      const holder = (await runtime.servers.list()).find(
        (s) =>
          s.running &&
          s.hostPort === db.spec.port &&
          !(s.role === 'Database' && s.owner === db.metadata.name),
      );
      if (holder)
        throw new StartFailure(
          `port ${db.spec.port} is held by ${holder.role === 'Database' ? `database ${holder.owner}` : `the import of template ${holder.owner}`}: choose another spec.port, or stop ${holder.role === 'Database' ? holder.owner : 'that import'} first`,
        );
    }
    try {
      return await runtime.servers.create({ ...spec, ...(port ? { hostPort: port } : {}) });
    } catch (error) {
      if (db.spec.port !== undefined) throw new StartFailure((error as Error).message);
      // The old port may be taken now: any port will do.
      if (port === undefined) throw error;
      log.info({ port, err: (error as Error).message }, 'previous port unavailable; choosing another');
      return runtime.servers.create(spec);
    }
  }

  /**
   * Waits until the server takes a login. A clone not yet configured still has the template's admin
   * password: log in with it once and replace it (and make the user); after a crash half-way the
   * database's own password works.
   */
  async #login(
    observed: Observed,
    record: DatabaseRecord,
    engine: Engine,
    endpoint: Endpoint,
    deadline: number,
    alive: () => Promise<boolean>,
  ): Promise<void> {
    const admin = { user: engine.admin.user, password: record.adminPassword };
    if (record.configured) return engine.admin.waitReady(endpoint, admin, deadline, alive);
    const templateAdmins = record.templateAdminPassword
      ? [{ user: engine.admin.user, password: record.templateAdminPassword }]
      : (await this.#deps.versions.list(record.template))
          .filter((v) => v.version === record.templateVersion)
          .map((v) => ({ user: engine.admin.user, password: v.adminPassword }));
    await engine.admin
      .waitReady(endpoint, templateAdmins[0] ?? admin, deadline, alive)
      .catch(async (error) => {
        if (!engine.admin.isAccessDenied(error)) throw error;
        await engine.admin.waitReady(endpoint, admin, deadline, alive);
      });
    faultPoint('database:after-server');
    await engine.admin.configureClone(endpoint, templateAdmins, admin, record.user);
    record.configured = true;
    faultPoint('database:after-configure');
  }

  async #markReady(
    observed: Observed,
    record: DatabaseRecord,
    server: ServerInfo,
    readyMs: number,
  ): Promise<void> {
    const { key, status } = observed;
    const { config, store } = this.#deps;
    record.port = server.hostPort;
    const wasReady = status.phase === 'Ready';
    if (!wasReady) {
      status.readySince = new Date().toISOString();
      // A start is activity: the idle clock starts again from here (the watch's next look).
      status.lastActivity = status.readySince;
      status.idle = undefined;
    }
    status.phase = 'Ready';
    status.message = undefined;
    status.server = serverState(server);
    status.connection = {
      host: config.hostname,
      port: server.hostPort ?? 0,
      user: record.user.user,
      database: record.database ?? config.defaultDatabase,
    };
    status.conditions = setCondition(
      status.conditions,
      'Ready',
      'True',
      'ServerReady',
      `accepting connections on port ${server.hostPort}`,
    );
    await store.save(key, status, record);
    if (!wasReady)
      await store.event(
        key,
        'Normal',
        'Ready',
        `ready on port ${server.hostPort} (${readyMs} ms after start)`,
      );
  }

  async #fail(
    key: `Database/${string}`,
    status: DatabaseStatus,
    record: DatabaseRecord,
    message: string,
  ): Promise<never> {
    const explained = await explainFailure(this.#deps.layout.root, message);
    await this.#notReady(key, status, record, 'Failed', 'ServerFailed', explained);
    await this.#deps.store.event(key, 'Warning', 'ServerFailed', explained.split('\n')[0] ?? explained);
    // Thrown so the queue retries with backoff: a crash-looping server is not restarted in a tight loop.
    throw new ReportedFailure(explained);
  }

  async #pending(
    key: `Database/${string}`,
    status: DatabaseStatus,
    record: DatabaseRecord,
    message: string,
    reason = 'TemplateNotReady',
    /** The template's import asks for this key when it finishes; others look again sooner. */
    retryAfterMs = 30_000,
  ): Promise<ReconcileResult> {
    await this.#notReady(key, status, record, 'Pending', reason, message);
    return { requeueAfterMs: retryAfterMs };
  }

  /** Records a phase other than Ready, with the Ready condition saying why. */
  async #notReady(
    key: `Database/${string}`,
    status: DatabaseStatus,
    record: DatabaseRecord,
    phase: DatabasePhase,
    reason: string,
    message: string,
  ): Promise<void> {
    status.phase = phase;
    status.message = message;
    status.conditions = setCondition(status.conditions, 'Ready', 'False', reason, message);
    await this.#deps.store.save(key, status, record);
  }

  #requeueForExpiry(expiresAt: number | undefined): ReconcileResult {
    if (expiresAt === undefined) return undefined;
    return { requeueAfterMs: Math.min(MAX_REQUEUE_MS, Math.max(0, expiresAt - Date.now()) + 50) };
  }

  async #removeUnwanted(
    name: string,
    record: DatabaseRecord | undefined,
    servers: ServerInfo[],
    cloneExists: boolean,
    log: Logger,
  ): Promise<ReconcileResult> {
    const key = `Database/${name}` as const;
    const { store } = this.#deps;
    const stored = store.get(key);
    if (servers.length === 0 && !cloneExists) {
      await this.#deps.storage.remove(this.#deps.layout.branchPointDir(name));
      if (store.get(key)) await store.delete(key);
      return undefined;
    }
    if (record?.protected) {
      await this.#holdRemoval(
        key,
        'Protected',
        'spec removed but the database is protected: nothing removed (re-add the spec with protected: false, then remove it)',
      );
      return undefined;
    }
    const verdict = await this.#deps.guard.check(key);
    if (!verdict.allowed) {
      await this.#holdRemoval(key, 'DeletionHeld', verdict.message ?? 'removal held');
      return { requeueAfterMs: verdict.retryAfterMs ?? 5_000 };
    }
    const reason = this.#deps.guard.isExplicit(key) ? 'Deleted' : 'SpecRemoved';
    log.info({ servers: servers.length, clone: cloneExists, reason }, 'spec removed: removing the database');
    const status = stored?.status ?? { phase: 'Pending' as const, conditions: [] };
    if (record) await this.#retire(name, record, status, servers, cloneExists, reason);
    else await this.#removeResources(servers, cloneExists ? this.#deps.layout.databaseDir(name) : undefined);
    // Recorded while the object is still there to carry it (and to tell its owner and times).
    await store.event(
      key,
      'Normal',
      'Deleted',
      `${reason === 'Deleted' ? 'deleted by name' : 'its spec was removed'}: ${record && cloneExists ? this.#trashNote(name) : ''}removed`,
    );
    await store.delete(key);
    return undefined;
  }

  /**
   * Stops the database's servers cleanly (the clone is then consistent), removes them, and moves the
   * clone with its record into the trash, where it stays restorable.
   */
  async #retire(
    name: string,
    record: DatabaseRecord,
    status: DatabaseStatus,
    servers: ServerInfo[],
    cloneExists: boolean,
    reason: TrashReason,
  ): Promise<void> {
    const { runtime, trash, layout } = this.#deps;
    for (const server of servers.filter((s) => s.running)) {
      await runtime.servers.stop(server.id, Math.min(30, this.#deps.stopTimeoutSeconds ?? 60));
    }
    for (const server of servers) await runtime.servers.remove(server.id);
    servers.length = 0;
    // A branch's point goes with the branch (a reset keeps it: it is what the reset goes back to).
    if (reason !== 'Reset') await this.#deps.storage.remove(layout.branchPointDir(name));
    if (!cloneExists) return;
    const snapshot = JSON.parse(JSON.stringify({ record, status })) as {
      record: DatabaseRecord;
      status: DatabaseStatus;
    };
    await trash.putDatabase(
      {
        name,
        reason,
        record: snapshot.record,
        status: snapshot.status,
        ...(record.lastSpec ? { spec: record.lastSpec } : {}),
        ...(record.specFile ? { specFile: record.specFile } : {}),
      },
      layout.databaseDir(name),
    );
  }

  /**
   * A database declared again whose data is in the trash comes back from there instead of being
   * cloned fresh: on request (`myaas restore`), or by itself when its spec file returns (a git revert,
   * a restore from backup) with the same template. Explicitly deleted ones come back only on request.
   */
  async #restoreFromTrash(
    observed: Observed,
    record: DatabaseRecord,
    fresh: boolean,
    log: Logger,
  ): Promise<boolean> {
    const { key, db, status } = observed;
    const { trash, restores, store, layout } = this.#deps;
    const name = db.metadata.name;
    const requested = restores.get(name);
    const entry = requested
      ? await trash.find('Database', requested)
      : fresh
        ? await trash.find('Database', name, ['SpecRemoved'])
        : undefined;
    if (requested) restores.delete(name);
    if (!entry || (!requested && !sameSource(entry.record, db.spec))) return false;
    await trash.takeDatabase(entry, layout.databaseDir(name));
    const resetToken = db.metadata.annotations[RESET_ANNOTATION] ?? entry.record.resetToken;
    Object.assign(record, entry.record, {
      expired: undefined,
      // Restored to be used: neither held stopped nor deleted again for idleness at once.
      idleStopped: undefined,
      idleDeleteDue: undefined,
      protected: db.spec.protected,
      lastSpec: db.spec,
      resetToken,
      // Its ttl counts again from the restore (else one deleted late in its life would expire at once).
      createdAt: Date.now(),
    });
    status.restoredFrom = { entry: entry.id, at: new Date().toISOString() };
    status.phase = 'Starting';
    status.expiredAt = undefined;
    status.cloneMethod = entry.status.cloneMethod;
    log.info({ entry: entry.id, reason: entry.reason }, 'restoring the database from the trash');
    await store.save(key, status, record);
    await store.event(key, 'Normal', 'Restored', `restored from the trash (${entry.id}, ${entry.reason})`);
    return true;
  }

  #trashNote(name: string): string {
    const days = this.#deps.config.trashRetentionSeconds;
    return days > 0 ? `in the trash for ${formatDuration(days)} (\`myaas restore ${name}\`); ` : '';
  }

  /** Says in status why a database whose spec is gone is still there. */
  async #holdRemoval(key: `Database/${string}`, reason: string, message: string): Promise<void> {
    const stored = this.#deps.store.get(key);
    if (!stored) return;
    stored.status.message = message;
    stored.status.conditions = setCondition(stored.status.conditions, 'Removal', 'False', reason, message);
    await this.#deps.store.save(key, stored.status, stored.record);
  }

  async #removeResources(servers: ServerInfo[], clone: string | undefined): Promise<void> {
    for (const server of servers) await this.#deps.runtime.servers.remove(server.id);
    if (clone) await this.#deps.storage.remove(clone);
  }
}

/**
 * The member's old path keeps naming its clone while the claimed server runs: a host MariaDB opens
 * some files by the absolute datadir it started with (Aria and MyISAM tables, mysql.global_priv among
 * them), and a renamed live datadir would make it fail to create or reopen them. The pool removes the
 * link once no server of that member is left.
 */
async function linkMovedClone(oldPath: string, clone: string): Promise<void> {
  try {
    await symlink(clone, oldPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}

/** Whether a trashed database's data came from what `spec` asks for (the same template, or branch source). */
function sameSource(record: DatabaseRecord, spec: DatabaseSpec): boolean {
  return spec.source
    ? record.branch?.database === spec.source.database
    : !record.branch && record.template === spec.template;
}

/**
 * The value already in status when it equals the new one. A resync pass recomputes the same strings
 * for every object; storing the old one lets the new one die young instead of being promoted into
 * the old generation and left there as garbage (10,000 objects: BENCHMARKS.md).
 */
function unchanged<T>(current: T, next: T): T {
  return current === next ? current : next;
}

function sameServerState(a: ServerState | undefined, b: ServerState | undefined): boolean {
  return (
    a === b || (!!a && !!b && a.running === b.running && a.since === b.since && a.exitCode === b.exitCode)
  );
}

/** The server's state in status: neutral words (the seed API says it as Docker would). */
function serverState(server: ServerInfo): ServerState {
  return {
    running: server.running,
    ...(server.since !== undefined ? { since: new Date(server.since).toISOString() } : {}),
    ...(server.exitCode !== undefined ? { exitCode: server.exitCode } : {}),
  };
}
