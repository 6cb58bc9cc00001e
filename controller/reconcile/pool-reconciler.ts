import { DEFAULT_ENGINE } from '../engine/defaults.js';
import type { Engine } from '../engine/engine.js';
import { newMemberId } from '../layout.js';
import type { Logger } from '../log.js';
import {
  type DatabaseRecord,
  type PoolMember,
  type TemplateObject,
  type VersionMeta,
  memberOwner,
  parseMemberOwner,
} from '../objects/index.js';
import type { PoolMembers } from '../pool/pool-members.js';
import { startAndWaitReady } from '../runtime/start-and-wait.js';
import { newSecret } from '../util/files.js';
import type { ReconcilerDeps } from './reconciler-deps.js';
import type { ReconcileResult } from './work-queue.js';

export interface PoolReconcilerDeps extends ReconcilerDeps {
  readonly pool: PoolMembers;
  /**
   * Told of a database whose claimed member server is gone or stopped: runtime events of that server
   * still say Pool (its labels), so they come here, and the database is asked to look now.
   */
  readonly onAdoptedServerDown?: (database: string) => void;
}

/** How soon a pool short of members looks again after a failed fill (a broken version, a full disk). */
const RETRY_AFTER_FAILURE_MS = 30_000;

/**
 * Reconciles a template's warm pool (keyed by the template's name): members of an old version, dead
 * ones, unfinished ones and extra ones go; one member is added per pass while the pool is short of
 * `spec.pool.size` ready members of the current version, and the pass asks to run again. A member a
 * database is claiming (its record's `claim`) or serves (`adoptedServer`) is never touched here.
 */
export class PoolReconciler {
  readonly #deps: PoolReconcilerDeps;
  /** Members being filled by this process now: an unfinished member not in here was left by a crash. */
  readonly #filling = new Set<string>();

  constructor(deps: PoolReconcilerDeps) {
    this.#deps = deps;
  }

  async reconcile(template: string, log: Logger): Promise<ReconcileResult> {
    const { desired, versions, pool, runtime, storage, layout } = this.#deps;
    const declared = desired.get(`Template/${template}`)?.object as TemplateObject | undefined;
    const target = declared?.spec.pool?.size ?? 0;
    const current = declared ? await versions.current(template) : undefined;
    const claims = this.#claims();
    const all = await runtime.servers.list();
    const servers = all.filter((s) => s.role === 'Pool' && parseMemberOwner(s.owner)?.template === template);
    for (const [server, database] of claims.adopters) {
      const found = all.find((s) => s.id === server);
      if (!found?.running) this.#deps.onAdoptedServerDown?.(database);
    }
    const members = await pool.list(template);
    const recorded = new Set(members.map((m) => m.id));

    // Leftovers: a server or a clone without a member record, not claimed by a database.
    for (const server of servers) {
      const id = parseMemberOwner(server.owner)!.id;
      if (recorded.has(id) || claims.servers.has(server.id) || this.#filling.has(id)) continue;
      log.info({ server: server.id, member: id }, 'removing a pool server without a member');
      await runtime.servers.remove(server.id);
    }
    for (const { id, link } of await pool.strays(template)) {
      if (claims.members.has(`${template}/${id}`) || this.#filling.has(id) || pool.isHeld(template, id))
        continue;
      if (link) {
        // Kept while the claimed server that opened files by this path exists.
        if (!servers.some((s) => parseMemberOwner(s.owner)?.id === id)) await pool.unlink(template, id);
        continue;
      }
      log.info({ member: id }, 'removing a pool clone without a member record');
      await storage.remove(layout.poolMemberDir(template, id));
    }

    const ready: PoolMember[] = [];
    for (const member of members) {
      if (this.#filling.has(member.id) || claims.members.has(`${template}/${member.id}`)) continue;
      const server = servers.find((s) => s.id === member.server);
      const why =
        member.version !== current?.version
          ? 'drained: not of the current version'
          : !member.ready
            ? 'unfinished (left by a crash)'
            : !server?.running
              ? 'its server is not running'
              : !(await storage.exists(layout.poolMemberDir(template, member.id)))
                ? 'its clone is gone'
                : undefined;
      if (why) await this.#removeMember(member, why, log);
      else ready.push(member);
    }
    // Extra members go, newest first (the oldest have waited longest for a claim).
    while (ready.length > target) {
      await this.#removeMember(ready.pop()!, 'extra: the pool is larger than spec.pool.size', log);
    }
    const held = ready.filter((m) => pool.isHeld(template, m.id)).length;
    let readyCount = ready.length - held;
    let result: ReconcileResult;
    if (current && declared && readyCount < target) {
      try {
        await this.#fill(declared, current, log);
        readyCount += 1;
        result = readyCount < target ? { requeueAfterMs: 0 } : undefined;
      } catch (error) {
        log.warn({ err: error }, 'could not fill the warm pool; trying again later');
        result = { requeueAfterMs: RETRY_AFTER_FAILURE_MS };
      }
    }
    await this.#reportStatus(template, readyCount, target);
    return result;
  }

  /** Member ids and server ids that databases claim or serve from: not the pool's to remove. */
  #claims(): { members: Set<string>; servers: Set<string>; adopters: Map<string, string> } {
    const members = new Set<string>();
    const servers = new Set<string>();
    /** Adopted server id → the database it serves. */
    const adopters = new Map<string, string>();
    for (const key of this.#deps.store.keys('Database')) {
      const record = this.#deps.store.get(key as `Database/${string}`)?.record as DatabaseRecord | undefined;
      if (record?.claim) {
        members.add(`${record.claim.template}/${record.claim.member}`);
        servers.add(record.claim.server);
      }
      if (record?.adoptedServer) {
        servers.add(record.adoptedServer);
        adopters.set(record.adoptedServer, key.slice('Database/'.length));
      }
    }
    return { members, servers, adopters };
  }

  async #removeMember(member: PoolMember, why: string, log: Logger): Promise<void> {
    const { pool, runtime, storage, layout } = this.#deps;
    // A claim holds it now: it is the claim's.
    if (!pool.hold(member.template, member.id)) return;
    try {
      log.info({ member: member.id, version: member.version, why }, 'removing a pool member');
      if (member.server) await runtime.servers.remove(member.server);
      await storage.remove(layout.poolMemberDir(member.template, member.id));
      await pool.forget(member.template, member.id);
    } finally {
      pool.release(member.template, member.id);
    }
  }

  /**
   * One new member: record first (a crash leaves something to clean up by), then the clone, its server,
   * and its first login, which replaces the template's admin password with the member's own and makes
   * the database user with a throwaway password (the claim sets the database's own).
   */
  async #fill(template: TemplateObject, version: VersionMeta, log: Logger): Promise<void> {
    const { pool, runtime, storage, layout, config } = this.#deps;
    const name = template.metadata.name;
    const engine: Engine = this.#deps.engineFor(version.engine ?? DEFAULT_ENGINE);
    const member: PoolMember = {
      id: newMemberId(),
      template: name,
      version: version.version,
      engine: version.engine,
      image: version.image,
      database: version.database,
      adminPassword: newSecret(),
      createdAt: Date.now(),
      ready: false,
    };
    const dir = layout.poolMemberDir(name, member.id);
    this.#filling.add(member.id);
    const started = Date.now();
    try {
      await pool.save(member);
      member.cloneMethod = await storage.clone(layout.versionDir(name, version.version), dir);
      await engine.admin.prepareClone(dir);
      const deadline = Date.now() + config.readyTimeoutSeconds * 1000;
      const templateAdmin = { user: engine.admin.user, password: version.adminPassword };
      const memberAdmin = { user: engine.admin.user, password: member.adminPassword };
      const server = await startAndWaitReady(
        runtime,
        async () => {
          const created = await runtime.servers.create({
            role: 'Pool',
            owner: memberOwner(name, member.id),
            template: name,
            templateVersion: version.version,
            image: version.image,
            dataDir: dir,
            engine,
            args: engine.image.serveArgs(),
            ...(config.databaseMemoryMiB ? { memoryMiB: config.databaseMemoryMiB } : {}),
          });
          member.server = created.id;
          await pool.save(member);
          return created;
        },
        async (endpoint, alive) => {
          await engine.admin.waitReady(endpoint, templateAdmin, deadline, alive);
          await engine.admin.configureClone(endpoint, [templateAdmin], memberAdmin, {
            user: config.databaseUser,
            password: newSecret(),
          });
        },
        (reason) => new Error(`pool member ${member.id} of ${name} did not start: ${reason}`),
      );
      member.port = server.hostPort;
      member.ready = true;
      await pool.save(member);
      log.info(
        { member: member.id, version: version.version, ms: Date.now() - started },
        'pool member ready',
      );
    } catch (error) {
      if (member.server) await runtime.servers.remove(member.server).catch(() => undefined);
      await storage.remove(dir).catch(() => undefined);
      await pool.forget(name, member.id).catch(() => undefined);
      throw error;
    } finally {
      this.#filling.delete(member.id);
    }
  }

  /** status.pool on the template, saved only when it changed (and only for a template with a status). */
  async #reportStatus(template: string, ready: number, target: number): Promise<void> {
    const key = `Template/${template}` as const;
    const stored = this.#deps.store.get(key);
    if (!stored) return;
    const before = stored.status.pool;
    if (target === 0 && ready === 0) {
      if (!before) return;
      stored.status.pool = undefined;
    } else {
      if (before?.ready === ready && before.target === target) return;
      stored.status.pool = { ready, target };
    }
    await this.#deps.store.save(key, stored.status, stored.record);
  }
}
