import { DEFAULT_ENGINE, defaultImage } from '../engine/defaults.js';
import type { Logger } from '../log.js';
import {
  type DatabaseObject,
  type DatabasePhase,
  type DatabaseRecord,
  type DatabaseStatus,
  type DeclaredSpec,
  RESET_ANNOTATION,
  type ServerState,
  type VersionMeta,
  setCondition,
} from '../objects/index.js';
import type { ServerInfo } from '../runtime/runtime.js';
import { explainFailure } from '../util/disk-space.js';
import { newSecret } from '../util/files.js';
import type { ReconcilerDeps } from './reconciler-deps.js';
import type { ReconcileResult } from './work-queue.js';

export interface DatabaseReconcilerDeps extends ReconcilerDeps {
  /** Seconds a running server gets to shut down cleanly. @default 60 */
  readonly stopTimeoutSeconds?: number;
}

/** A failure already put into status: not to be overwritten by the generic report. */
class ReportedFailure extends Error {}

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
    const { desired, store, layout, storage, runtime } = this.#deps;
    const key = `Database/${name}` as const;
    const spec = desired.get(key) as DeclaredSpec | undefined;
    const stored = store.get(key);
    const clone = layout.databaseDir(name);
    const servers = (await runtime.list()).filter((s) => s.role === 'Database' && s.owner === name);
    const cloneExists = await storage.exists(clone);

    if (!spec) {
      if (!desired.synced || !desired.available) return undefined;
      return this.#removeUnwanted(name, stored?.record, servers, cloneExists, log);
    }
    const db = spec.object as DatabaseObject;
    const status: DatabaseStatus = stored?.status ?? { phase: 'Pending', conditions: [] };
    status.observedGeneration = spec.generation;
    status.template = db.spec.template;
    let record = stored?.record;

    // Expired earlier and the spec has not changed since: stays expired, resources stay gone.
    if (record?.expired && record.expired.digest === spec.digest) {
      await this.#removeResources(servers, cloneExists ? clone : undefined);
      return undefined;
    }
    // A changed spec after expiry gives a fresh database.
    if (record?.expired) record = undefined;
    if (!record) {
      record = {
        template: db.spec.template,
        user: { user: this.#deps.config.databaseUser, password: newSecret() },
        adminPassword: newSecret(),
        configured: false,
        resetToken: db.metadata.annotations[RESET_ANNOTATION] ?? '',
        protected: db.spec.protected,
      };
    }
    record.protected = db.spec.protected;

    const now = Date.now();
    let expiresAt = expiryOf(db, record);
    status.expiresAt = expiresAt ? new Date(expiresAt).toISOString() : undefined;
    if (expiresAt !== undefined && now >= expiresAt) {
      if (db.spec.protected) {
        status.conditions = setCondition(
          status.conditions,
          'Expired',
          'False',
          'Protected',
          'past its expiry but protected: not removed',
        );
      } else {
        await this.#removeResources(servers, cloneExists ? clone : undefined);
        record.expired = { at: now, digest: spec.digest };
        record.configured = false;
        status.phase = 'Expired';
        status.expiredAt = new Date(now).toISOString();
        status.message = `expired at ${status.expiresAt}; change ttl/expiresAt or re-add the spec for a fresh one`;
        status.connection = undefined;
        status.server = undefined;
        status.conditions = setCondition(status.conditions, 'Ready', 'False', 'Expired', status.message);
        await store.save(key, status, record);
        await store.event(key, 'Normal', 'Expired', status.message);
        return undefined;
      }
    }

    // Reset: a fresh clone of the template's current version, same name, port and credentials.
    const resetToken = db.metadata.annotations[RESET_ANNOTATION] ?? '';
    let fresh = !cloneExists;
    if (cloneExists && resetToken !== record.resetToken) {
      const current = await this.#deps.versions.current(db.spec.template);
      if (!current)
        return this.#pending(
          key,
          status,
          record,
          `reset waits: template ${db.spec.template} has no ready version`,
        );
      log.info({ from: record.templateVersion, to: current.version }, 'resetting to the template');
      await this.#removeResources(servers, clone);
      servers.length = 0;
      fresh = true;
    }
    record.resetToken = resetToken;

    let version: VersionMeta | undefined;
    if (fresh) {
      version = await this.#deps.versions.current(db.spec.template);
      if (!version) {
        return this.#pending(
          key,
          status,
          record,
          `waiting for template ${db.spec.template} to have a ready version`,
        );
      }
      record.templateVersion = version.version;
      record.templateAdminPassword = version.adminPassword;
      record.database = version.database;
      record.image = version.image;
      record.engine = version.engine;
      record.configured = false;
      record.createdAt ??= now;
      status.phase = 'Cloning';
      status.createdAt = new Date(record.createdAt).toISOString();
      // Recorded before the clone exists, so a crash here leaves credentials to adopt the clone with.
      await store.save(key, status, record);
      for (const server of servers) await runtime.remove(server.id);
      servers.length = 0;
      await storage.remove(clone);
      status.cloneMethod = await storage.clone(layout.versionDir(db.spec.template, version.version), clone);
      await this.#deps.engines(version.engine).admin.prepareClone(clone);
      await store.event(
        key,
        'Normal',
        'Cloned',
        `cloned ${db.spec.template}/${version.version} (${status.cloneMethod})`,
      );
    }
    status.templateVersion = record.templateVersion;
    status.engine = record.engine ?? DEFAULT_ENGINE;
    record.createdAt ??= now;
    status.createdAt = new Date(record.createdAt).toISOString();
    expiresAt = expiryOf(db, record);
    status.expiresAt = expiresAt ? new Date(expiresAt).toISOString() : undefined;

    if (db.spec.state === 'Stopped') {
      for (const server of servers.filter((s) => s.running)) {
        await runtime.stop(server.id, this.#deps.stopTimeoutSeconds ?? 60);
      }
      status.phase = 'Stopped';
      status.message = 'stopped; data kept (set state: Running to start it)';
      const stopped = servers[0] && (await runtime.inspect(servers[0].id));
      status.server = stopped ? serverState(stopped) : undefined;
      status.conditions = setCondition(status.conditions, 'Ready', 'False', 'Stopped', status.message);
      await store.save(key, status, record);
      return this.#requeueForExpiry(expiresAt);
    }
    return this.#run(key, db, status, record, servers, expiresAt, log);
  }

  async #run(
    key: `Database/${string}`,
    db: DatabaseObject,
    status: DatabaseStatus,
    record: DatabaseRecord,
    servers: ServerInfo[],
    expiresAt: number | undefined,
    log: Logger,
  ): Promise<ReconcileResult> {
    const { runtime, store, config, layout } = this.#deps;
    const engine = this.#deps.engines(record.engine ?? DEFAULT_ENGINE);
    // One running server per database. Anything else goes: a stale one (other version, a duplicate),
    // and a stopped or dead one, which is made again on the same clone and port (a restart of a
    // container would get a new port from Docker).
    let server: ServerInfo | undefined;
    for (const candidate of servers.sort(
      (a, b) => Number(b.running) - Number(a.running) || b.createdAt - a.createdAt,
    )) {
      const wrongPort =
        db.spec.port !== undefined && candidate.running && candidate.hostPort !== db.spec.port;
      const keep = candidate.running && candidate.templateVersion === record.templateVersion && !wrongPort;
      if (!server && keep) server = candidate;
      else await runtime.remove(candidate.id);
    }
    const started = Date.now();
    if (!server) {
      status.phase = 'Starting';
      const spec = {
        role: 'Database' as const,
        owner: db.metadata.name,
        template: db.spec.template,
        templateVersion: record.templateVersion ?? '',
        image: record.image ?? defaultImage(config, record.engine ?? DEFAULT_ENGINE),
        dataDir: layout.databaseDir(db.metadata.name),
        engine,
        args: engine.image.serveArgs(),
        ...(config.databaseMemoryMiB ? { memoryMiB: config.databaseMemoryMiB } : {}),
      };
      const port = db.spec.port ?? record.port;
      try {
        server = await runtime.create({ ...spec, ...(port ? { hostPort: port } : {}) });
      } catch (error) {
        // The old port may be taken now: any port will do unless the spec fixes one.
        if (db.spec.port !== undefined || port === undefined) throw error;
        log.info({ port, err: (error as Error).message }, 'previous port unavailable; choosing another');
        server = await runtime.create(spec);
      }
    }
    if (!server.running || !server.hostPort) {
      const logs = await runtime.logs(server.id, 15);
      return this.#fail(
        key,
        status,
        record,
        `server exited at start (exit code ${server.exitCode ?? 'unknown'}): ${logs}`,
      );
    }
    const endpoint = { host: runtime.connectHost, port: server.hostPort };
    const admin = { user: engine.admin.user, password: record.adminPassword };
    const deadline = Date.now() + config.readyTimeoutSeconds * 1000;
    const serverId = server.id;
    const alive = async () => (await runtime.inspect(serverId))?.running ?? false;
    try {
      if (!record.configured) {
        // The clone still has the template's admin password: log in with it once, then replace it.
        const templateAdmins = record.templateAdminPassword
          ? [{ user: engine.admin.user, password: record.templateAdminPassword }]
          : (await this.#deps.versions.list(db.spec.template))
              .filter((v) => v.version === record.templateVersion)
              .map((v) => ({ user: engine.admin.user, password: v.adminPassword }));
        await engine.admin
          .waitReady(endpoint, templateAdmins[0] ?? admin, deadline, alive)
          .catch(async (error) => {
            if (!engine.admin.isAccessDenied(error)) throw error;
            await engine.admin.waitReady(endpoint, admin, deadline, alive);
          });
        await engine.admin.configureClone(endpoint, templateAdmins, admin, record.user);
        record.configured = true;
      } else {
        await engine.admin.waitReady(endpoint, admin, deadline, alive);
      }
    } catch (error) {
      const logs = await runtime.logs(server.id, 15);
      return this.#fail(
        key,
        status,
        record,
        `server did not become ready: ${(error as Error).message}\n${logs}`,
      );
    }
    const readyMs = Date.now() - started;
    this.#deps.metrics?.cloneToReadySeconds.observe(readyMs / 1000);
    record.port = server.hostPort;
    const wasReady = status.phase === 'Ready';
    if (!wasReady) status.readySince = new Date().toISOString();
    status.phase = 'Ready';
    status.message = undefined;
    status.server = serverState(server);
    status.connection = {
      host: config.hostname,
      port: server.hostPort,
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
    return this.#requeueForExpiry(expiresAt);
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
  ): Promise<ReconcileResult> {
    await this.#notReady(key, status, record, 'Pending', 'TemplateNotReady', message);
    // The template's import asks for this key when it finishes; look again slowly in any case.
    return { requeueAfterMs: 30_000 };
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
    const { store, layout } = this.#deps;
    if (servers.length === 0 && !cloneExists) {
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
    const verdict = await this.#deps.guard.check(name);
    if (!verdict.allowed) {
      await this.#holdRemoval(key, 'DeletionHeld', verdict.message ?? 'removal held');
      return { requeueAfterMs: 5_000 };
    }
    log.info({ servers: servers.length, clone: cloneExists }, 'spec removed: removing the database');
    await this.#removeResources(servers, cloneExists ? layout.databaseDir(name) : undefined);
    await store.delete(key);
    return undefined;
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
    for (const server of servers) await this.#deps.runtime.remove(server.id);
    if (clone) await this.#deps.storage.remove(clone);
  }
}

/** `expiresAt` is absolute; `ttl` counts from the clone's creation (unknown until it exists). */
function expiryOf(db: DatabaseObject, record: DatabaseRecord): number | undefined {
  if (db.spec.expiresAt !== undefined) return db.spec.expiresAt;
  if (db.spec.ttlSeconds !== undefined && record.createdAt !== undefined)
    return record.createdAt + db.spec.ttlSeconds * 1000;
  return undefined;
}

/** The server's state in status: neutral words (the seed API says it as Docker would). */
function serverState(server: ServerInfo): ServerState {
  return {
    running: server.running,
    ...(server.since !== undefined ? { since: new Date(server.since).toISOString() } : {}),
    ...(server.exitCode !== undefined ? { exitCode: server.exitCode } : {}),
  };
}
