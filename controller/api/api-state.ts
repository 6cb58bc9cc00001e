import { clientCommandLine } from '../engine/client-line.js';
import { engineFor } from '../engine/engines.js';
import {
  type ConnectionView,
  type DatabaseObject,
  type DeclaredSpec,
  type Kind,
  OWNER_ANNOTATION,
  type ObjectKey,
  type SchemaDiffView,
} from '../objects/index.js';
import { SchemaDiffUnavailable } from '../schema/base-schema.js';
import { SchemaReadError, diffDatabase } from '../schema/database-diff.js';
import { access, ownerOf } from './access.js';
import type { Caller } from './auth.js';
import { HttpError } from './http.js';
import { canonicalName, dumpTemplateName, seedTemplateName, specDocument } from './objects.js';
import type { ApiContext } from './routes.js';

/** Shared reads of the desired state and status, for both APIs. */
export class ApiState {
  constructor(readonly context: ApiContext) {}

  get #running() {
    return this.context.running;
  }

  templates(): DeclaredSpec[] {
    return this.#running.desired.list('Template').sort((a, b) => a.key.localeCompare(b.key));
  }

  databases(): DeclaredSpec[] {
    return this.#running.desired.list('Database').sort((a, b) => a.key.localeCompare(b.key));
  }

  /**
   * A template by its name, its seed (dump) name, or the canonical form of either; failing those, the
   * template made of the dump that name comes from (`test_db` → `test_db.sql`): a Template spec that
   * took over a dump answers to the name the original API knew it by, so its clients keep working.
   */
  findTemplate(name: string): DeclaredSpec | undefined {
    const canonical = canonicalName(name);
    const templates = this.templates();
    return (
      templates.find(
        (t) =>
          t.object.metadata.name === name ||
          seedTemplateName(t) === name ||
          t.object.metadata.name === canonical,
        // Dump names become template names lower-cased (`Shop.sql` → `shop`), as implicitTemplateName does.
      ) ?? templates.find((t) => dumpTemplateName(t) === canonical.toLowerCase())
    );
  }

  /**
   * Whether `templateName` (as the original routes give it) names this database's template: the one
   * its spec names, in either form, whether or not that template still exists (a clone outlives its
   * template: removed, or an implicit one whose dump a Template spec took over), or the template
   * that name finds.
   */
  belongsTo(database: DeclaredSpec, templateName: string): boolean {
    const own = (database.object as DatabaseObject).spec.template;
    if (templateName === own || canonicalName(templateName) === own) return true;
    return this.findTemplate(templateName)?.object.metadata.name === own;
  }

  /**
   * Deletes an API-managed object by name: an explicit deletion (no grace, not counted as part of a
   * mass removal, trashed as `Deleted`). Resolves once it is removed (true), or false at the timeout.
   */
  async deleteObject(kind: Kind, name: string, timeoutMs = 60_000): Promise<boolean> {
    const key = `${kind}/${name}` as ObjectKey;
    this.#running.controller.markExplicitDeletion(key);
    await this.context.writer.remove(kind, name);
    this.#running.controller.enqueue(key);
    const gone = () => !this.#running.desired.get(key) && !this.#running.store.get(key);
    return this.waitFor(key, gone, timeoutMs);
  }

  /**
   * How to reach a database with its secrets: host, port, user, password, the schema, a DSN and the
   * engine's client command (the password in its environment, as `myaas connect --print` prints it).
   * Its owner or an admin only; 409 while it has no server to reach.
   */
  connection(name: string, caller: Caller): ConnectionView {
    const stored = this.#ownDatabase(name, caller, 'see the password of');
    const connection = stored?.status.connection;
    if (!stored || !connection)
      throw new HttpError(409, {
        status: `Database "${name}" has no server to reach yet (${stored?.status.phase ?? 'Pending'})`,
      });
    const info = { ...connection, password: stored.record.user.password };
    const engine = engineFor(stored.status.engine);
    const client = engine.client.command(info);
    return {
      ...info,
      engine: engine.name,
      dsn: engine.client.dsn(info),
      command: clientCommandLine(client),
    };
  }

  /**
   * What a database changed in its schema since the template version it was cloned from: read live
   * from its server. Its owner or an admin, as its connection (a schema says much about the data).
   * 409 when it cannot be compared now (stopped, not cloned yet, no recorded base), saying why.
   */
  async schemaDiff(name: string, caller: Caller): Promise<SchemaDiffView> {
    const stored = this.#ownDatabase(name, caller, 'compare the schema of');
    if (!stored)
      throw new HttpError(409, { status: `Database "${name}" cannot be compared yet: it is Pending` });
    const { layout, runtime } = this.#running;
    try {
      return await diffDatabase({ layout, runtime }, name, stored.record, stored.status);
    } catch (error) {
      const message = `Database "${name}" cannot be compared with its base: ${(error as Error).message}`;
      if (error instanceof SchemaDiffUnavailable) throw new HttpError(409, { status: message });
      if (error instanceof SchemaReadError) throw new HttpError(502, { status: message });
      throw error;
    }
  }

  /**
   * A declared database the caller may act on as its owner (or an admin), and its stored state if any:
   * 404 for one it may not even see, 403 for one it sees but does not own.
   */
  #ownDatabase(name: string, caller: Caller, what: string) {
    const record = this.#running.desired.get(`Database/${name}`);
    if (!record) throw new HttpError(404, { status: `Database "${name}" not found` });
    if (!access.sees(caller, ownerOf(record.object)))
      throw new HttpError(404, { status: `Database "${name}" not found` });
    access.requireOwn(caller, ownerOf(record.object), name, what);
    return this.databaseStatus(name);
  }

  /**
   * Brings a database back from the trash (the newest entry of that name, or the entry with that id):
   * declares it again when its spec is gone, and waits until it serves (or is Stopped, as it was).
   */
  async restoreDatabase(
    nameOrId: string,
    caller: Caller,
    timeoutMs = 60_000,
  ): Promise<{ entry: string; phase?: string }> {
    const running = this.#running;
    const entry = await running.controller.trash.find('Database', nameOrId);
    if (!entry || !access.sees(caller, entry.record.owner))
      throw new HttpError(404, {
        status: `nothing named "${nameOrId}" in the trash (see GET /api/v1/trash)`,
      });
    access.requireOwn(caller, entry.record.owner, entry.name, 'restore');
    const key = `Database/${entry.name}` as const;
    const declared = running.desired.get(key);
    const live = running.store.get(key);
    if (declared && live && !live.record.expired) {
      throw new HttpError(409, {
        status: `Database "${entry.name}" exists: delete it first (it goes to the trash too), then restore ${entry.id}`,
      });
    }
    if (!declared && live) {
      throw new HttpError(409, {
        status: `Database "${entry.name}" is being removed; retry in a few seconds`,
      });
    }
    running.controller.requestRestore(entry.name, entry.id);
    if (!declared) {
      const spec = entry.spec ?? {
        template: entry.record.template,
        state: 'Running' as const,
        protected: false,
      };
      await this.context.writer.put(
        'Database',
        entry.name,
        specDocument({
          kind: 'Database',
          metadata: {
            name: entry.name,
            labels: {},
            annotations: entry.record.owner ? { [OWNER_ANNOTATION]: entry.record.owner } : {},
          },
          spec,
        }),
      );
    }
    const done = () =>
      running.store.get(key)?.status.restoredFrom?.entry === entry.id &&
      ['Ready', 'Stopped', 'Failed'].includes(running.store.get(key)?.status.phase ?? '');
    await this.waitFor(key, done, timeoutMs);
    return { entry: entry.id, phase: running.store.get(key)?.status.phase };
  }

  /**
   * A start request: a database the idle watch stopped starts again (the hold is cleared; its spec
   * already says Running, wherever it is declared); an API-managed one whose spec says Stopped gets
   * Running. One declared in a spec file with state Stopped is changed in its file (409).
   */
  async startDatabase(name: string, caller: Caller): Promise<{ status: string; phase?: string }> {
    const record = this.#running.desired.get(`Database/${name}`);
    if (!record || !access.sees(caller, ownerOf(record.object)))
      throw new HttpError(404, { status: `Database "${name}" not found` });
    access.requireOwn(caller, ownerOf(record.object), name, 'start');
    const stored = this.databaseStatus(name);
    if (stored?.status.phase === 'Expired')
      throw new HttpError(409, {
        status: `Database "${name}" has expired (or was deleted for idleness): its data is in the trash, \`myaas restore ${name}\` brings it back`,
      });
    if (record.object.spec.state === 'Running') {
      if (await this.#running.controller.requestStart(name, caller.name))
        return { status: `start of Database "${name}" requested (it was stopped for idleness)` };
      return {
        status: `Database "${name}" is not stopped (${stored?.status.phase ?? 'Pending'})`,
        phase: stored?.status.phase,
      };
    }
    if (!this.context.writer.manages(record.file, 'Database', name))
      throw new HttpError(409, {
        status: `Database "${name}" is declared in ${record.file} with state: Stopped: set state: Running there`,
      });
    await this.#running.controller.requestStart(name, caller.name);
    await this.context.writer.put(
      'Database',
      name,
      specDocument({ ...record.object, spec: { ...record.object.spec, state: 'Running' } }),
    );
    return { status: `start of Database "${name}" requested (spec.state: Running)` };
  }

  /** Databases a user owns now (expired ones do not count): what quotas count. */
  ownedBy(user: string): number {
    return this.databases().filter(
      (d) =>
        d.object.metadata.annotations[OWNER_ANNOTATION] === user &&
        this.databaseStatus(d.object.metadata.name)?.status.phase !== 'Expired',
    ).length;
  }

  templateStatus(name: string) {
    return this.#running.store.get(`Template/${name}`);
  }

  databaseStatus(name: string) {
    return this.#running.store.get(`Database/${name}`);
  }

  /** Waits until `check` holds for the stored state of `key`, or the deadline passes. */
  waitFor(key: ObjectKey, check: () => boolean, timeoutMs: number): Promise<boolean> {
    if (check()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(false), timeoutMs);
      // Woken by status writes and by spec changes of that key; a slow poll covers anything else.
      const poll = setInterval(() => check() && finish(true), 1000);
      const offStore = this.#running.store.subscribe((changed) => {
        if (changed === key && check()) finish(true);
      });
      const offDesired = this.#running.desired.subscribe((keys) => {
        if (keys.includes(key) && check()) finish(true);
      });
      const finish = (ok: boolean) => {
        clearTimeout(timer);
        clearInterval(poll);
        offStore();
        offDesired();
        resolve(ok);
      };
    });
  }
}
