import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { stringify } from 'yaml';
import {
  type DeclaredSpec,
  type HeldView,
  type InfoView,
  type Kind,
  OWNER_ANNOTATION,
  type ObjectKey,
  RESET_ANNOTATION,
  type SpecObject,
  type TrashEntry,
  type TrashItemView,
  parseKey,
} from '../objects/index.js';
import { servesDatabase } from '../runtime/runtime.js';
import { nameProblem } from '../spec/names.js';
import { parseSpecFile } from '../spec/parse.js';
import { formatProblem } from '../spec/problems.js';
import { loadSchemas } from '../spec/schema.js';
import { packageVersion } from '../util/package.js';
import { access, applyQuota, memoryQuota, ownerOf } from './access.js';
import { ApiState } from './api-state.js';
import type { Caller } from './auth.js';
import { HttpError, readBody, sendEmpty, sendJson } from './http.js';
import { objectProblems } from './object-problems.js';
import { specDocument, toApiObject } from './objects.js';
import type { ApiContext, Route } from './routes.js';
import { serveWatch } from './watch.js';

const NAME = '([a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?)';
const KIND_PATHS: Record<string, Kind> = { templates: 'Template', databases: 'Database' };

/** `/api/v1`: whole objects with status, problems, events, and the few actions that are not specs. */
export function nativeRoutes(context: ApiContext, authRequired: () => boolean): Route[] {
  const state = new ApiState(context);
  const { running, writer } = context;
  const schemas = loadSchemas();

  const objectOf = (kind: Kind, name: string) => {
    const record = running.desired.get(`${kind}/${name}`);
    if (!record) throw new HttpError(404, { status: `${kind} "${name}" not found` });
    return toApiObject(record, running.store.get(record.key)?.status);
  };
  const requireManaged = (kind: Kind, name: string) => {
    const record = running.desired.get(`${kind}/${name}`);
    if (!record) throw new HttpError(404, { status: `${kind} "${name}" not found` });
    if (!writer.manages(record.file, kind, name)) {
      throw new HttpError(409, {
        status: `${kind} "${name}" is declared in ${record.file}: change it there`,
      });
    }
    return record;
  };

  /**
   * Writes an object into the managed folder: `apply` creates or replaces it, `create` only makes a new
   * one (409 when it exists; a Database must name a template that exists). Status and `source`, which
   * the API adds to what it returns, are ignored: `get -o yaml` output applies back unchanged.
   */
  const writeObject = async (
    kind: Kind,
    name: string,
    body: Record<string, unknown>,
    caller: Caller,
    res: ServerResponse,
    mode: 'apply' | 'create',
  ): Promise<void> => {
    if (kind === 'Template') access.requireAdmin(caller, 'change templates');
    else access.requireCreate(caller);
    const { status: _status, source: _source, ...given } = body;
    const object = { apiVersion: 'myaas.dev/v1alpha1', kind, ...given };
    const file = `request body (${kind}/${name})`;
    const result = parseSpecFile(Buffer.from(stringify(object)), file, schemas);
    if (result.problems.length > 0 || result.objects.length !== 1) {
      throw new HttpError(400, {
        status: 'Invalid object',
        problems:
          result.problems.length > 0 ? result.problems.map(formatProblem) : ['expected exactly one object'],
      });
    }
    const parsed = result.objects[0]!.object;
    if (parsed.kind !== kind || parsed.metadata.name !== name) {
      throw new HttpError(400, {
        status: `The body is ${parsed.kind}/${parsed.metadata.name}, the path ${kind}/${name}`,
      });
    }
    const existing = running.desired.get(`${kind}/${name}`);
    if (existing && mode === 'create')
      throw new HttpError(409, {
        status: `${kind} "${name}" exists${writer.manages(existing.file, kind, name) ? '' : ` (declared in ${existing.file})`}: choose another name, or change it with myaas apply`,
      });
    if (mode === 'create' && parsed.kind === 'Database' && parsed.spec.source) {
      // A branch copies the source's data: only who may read that database's data may branch it.
      const source = running.desired.get(`Database/${parsed.spec.source.database}`);
      if (!source)
        throw new HttpError(404, {
          status: `Database "${parsed.spec.source.database}" does not exist (myaas get databases lists them)`,
        });
      access.requireOwn(caller, ownerOf(source.object), parsed.spec.source.database, 'branch');
    } else if (
      mode === 'create' &&
      parsed.kind === 'Database' &&
      !running.desired.get(`Template/${parsed.spec.template}`)
    )
      throw new HttpError(404, {
        status: `Template "${parsed.spec.template}" does not exist (myaas get templates lists them)`,
      });
    if (existing && !writer.manages(existing.file, kind, name)) {
      throw new HttpError(409, {
        status: `${kind} "${name}" is declared in ${existing.file}: change it there`,
      });
    }
    if (existing && kind === 'Database') access.requireOwn(caller, ownerOf(existing.object), name, 'change');
    const owned =
      kind === 'Database' ? ownedSpec(object, parsed, existing, caller, state.ownedBy(caller.name)) : object;
    // Of concurrent creators exactly one made the file (an atomic link) and is told 201.
    const created = !existing && (await writer.create(kind, name, owned));
    if (!created && mode === 'create')
      throw new HttpError(409, { status: `${kind} "${name}" exists: choose another name` });
    if (!created) await writer.put(kind, name, owned);
    sendJson(res, created ? 201 : 200, {
      ...owned,
      source: { file: writer.relativeFile(kind, name), line: 1 },
    });
  };

  const routes: Route[] = [
    {
      method: 'GET',
      pattern: /^\/healthz$/,
      open: true,
      handler: async (_q, res) => sendJson(res, 200, { status: 'ok' }),
    },
    {
      method: 'GET',
      pattern: /^\/readyz$/,
      open: true,
      handler: async (_q, res) => {
        const ready = running.desired.synced && running.desired.available;
        sendJson(res, ready ? 200 : 503, {
          status: ready ? 'ready' : 'specs not loaded or specs dir unavailable',
        });
      },
    },
    {
      method: 'GET',
      pattern: /^\/metrics$/,
      handler: async (_q, res) => {
        const { metrics, store } = running;
        metrics.databasesByPhase.reset();
        metrics.templatesByPhase.reset();
        for (const key of store.keys('Database')) {
          metrics.databasesByPhase.inc({
            phase: store.get(key)?.status.phase ?? 'Unknown',
          });
        }
        for (const key of store.keys('Template')) {
          metrics.templatesByPhase.inc({
            phase: store.get(key)?.status.phase ?? 'Unknown',
          });
        }
        metrics.specProblems.set(running.desired.problems().length);
        const text = await metrics.registry.metrics();
        res.writeHead(200, { 'content-type': metrics.registry.contentType });
        res.end(text);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/problems$/,
      handler: async (_q, res) =>
        sendJson(res, 200, {
          items: [
            ...running.desired.problems().map((p) => ({ ...p, text: formatProblem(p) })),
            ...objectProblems(running).map((p) => ({ ...p, text: formatProblem(p) })),
            ...running.store.unreadableKeys().map((key) => {
              const text = `${key}: state unreadable (${running.store.unreadable(key)}); held with its data: restore the file from a backup, or delete the database explicitly (it goes to the trash)`;
              return { file: running.store.unreadable(key)?.split(':')[0] ?? '', key, message: text, text };
            }),
          ],
        }),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/events$/,
      handler: async (_q, res) => {
        const items = [...running.store.keys('Template'), ...running.store.keys('Database')].flatMap((key) =>
          (running.store.get(key)?.events ?? []).map((e) => ({ object: key, ...e })),
        );
        sendJson(res, 200, { items: items.sort((a, b) => a.time.localeCompare(b.time)) });
      },
    },
    {
      // What a client needs before it logs in: whether it must, and what this controller is.
      method: 'GET',
      pattern: /^\/api\/v1\/info$/,
      open: true,
      handler: async (_q, res) =>
        sendJson(res, 200, {
          version: packageVersion(),
          auth: authRequired(),
          trashRetentionSeconds: running.config.trashRetentionSeconds,
        } satisfies InfoView),
    },
    {
      // Live updates for the web UI (and any client): which kinds changed, as server-sent events.
      method: 'GET',
      pattern: /^\/api\/v1\/watch$/,
      handler: async (req, res) => serveWatch(running, req, res),
    },
    {
      // How to reach a database, secrets included: its owner or an admin, like the password in the seed API.
      method: 'GET',
      pattern: new RegExp(`^/api/v1/databases/${NAME}/connection$`),
      handler: async (_q, res, [name], _u, caller) => sendJson(res, 200, state.connection(name!, caller)),
    },
    {
      // What its schema changed since its template version, read from its server: as its connection.
      method: 'GET',
      pattern: new RegExp(`^/api/v1/databases/${NAME}/diff$`),
      handler: async (_q, res, [name], _u, caller) =>
        sendJson(res, 200, await state.schemaDiff(name!, caller)),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/whoami$/,
      handler: async (_q, res, _p, _u, caller) => sendJson(res, 200, caller),
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/deletions$/,
      handler: async (_q, res) => {
        await running.controller.guard.refresh();
        sendJson(res, 200, namesByKind(running.controller.guard.held));
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/deletions\/confirm$/,
      handler: async (_q, res, _p, _u, caller) => {
        access.requireAdmin(caller, 'confirm mass removals');
        const confirmed = await running.controller.guard.confirm();
        for (const key of confirmed) running.controller.enqueue(key);
        sendJson(res, 200, namesByKind(confirmed));
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/trash$/,
      handler: async (_q, res, _p, _u, caller) =>
        sendJson(res, 200, {
          items: (await running.controller.trash.list())
            .filter((e) => e.kind === 'Template' || access.sees(caller, e.record.owner))
            .map(trashItem),
        }),
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/trash\/([^/]+)\/restore$/,
      handler: async (_q, res, [id], _u, caller) =>
        sendJson(res, 200, await state.restoreDatabase(id!, caller)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/v1/databases/${NAME}/restore$`),
      handler: async (_q, res, [name], _u, caller) =>
        sendJson(res, 200, await state.restoreDatabase(name!, caller)),
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/v1/databases/${NAME}/reset$`),
      handler: async (_q, res, [name], _u, caller) => {
        const record = requireManaged('Database', name!);
        access.requireOwn(caller, ownerOf(record.object), name!, 'reset');
        const annotations = {
          ...record.object.metadata.annotations,
          [RESET_ANNOTATION]: new Date().toISOString(),
        };
        await writer.put(
          'Database',
          name!,
          specDocument({ ...record.object, metadata: { ...record.object.metadata, annotations } }),
        );
        sendJson(res, 202, { status: `reset of Database "${name}" requested` });
      },
    },
    {
      // Starts a database: one the idle watch stopped (whatever declares it: the spec still says
      // Running), or an API-managed one whose spec says Stopped. Its owner or an admin.
      method: 'POST',
      pattern: new RegExp(`^/api/v1/databases/${NAME}/start$`),
      handler: async (_q, res, [name], _u, caller) =>
        sendJson(res, 202, await state.startDatabase(name!, caller)),
    },
    {
      // The database server's own log (its last lines): owner or admin only, like its password.
      method: 'GET',
      pattern: new RegExp(`^/api/v1/databases/${NAME}/logs$`),
      handler: async (_q, res, [name], url, caller) => {
        const record = running.desired.get(`Database/${name}`);
        const stored = running.store.get(`Database/${name}`);
        if (!record && !stored) throw new HttpError(404, { status: `Database "${name}" not found` });
        access.requireOwn(
          caller,
          record ? ownerOf(record.object) : stored?.record.owner,
          name!,
          'read the log of',
        );
        const asked = url.searchParams.get('lines') ?? '100';
        const lines = Number(asked);
        if (!/^[0-9]+$/.test(asked) || lines < 1 || lines > 10_000)
          throw new HttpError(400, { status: `Invalid lines "${asked}": a number from 1 to 10000` });
        const [server] = (await running.runtime.servers.list())
          .filter((s) => servesDatabase(s, name!, stored?.record.adoptedServer))
          .sort((a, b) => b.createdAt - a.createdAt);
        if (!server)
          throw new HttpError(404, {
            status: `Database "${name}" has no server now (${stored?.status.phase ?? 'Pending'}): no log to show`,
          });
        const text = await running.runtime.servers.logs(server.id, lines);
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8' });
        res.end(text ? `${text}\n` : '');
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/api/v1/templates/${NAME}/reimport$`),
      handler: async (_q, res, [name], _u, caller) => {
        access.requireAdmin(caller, 'reimport templates');
        const record = running.desired.get(`Template/${name}`);
        if (!record) throw new HttpError(404, { status: `Template "${name}" not found` });
        // A touch of the spec file is the reimport trigger; an implicit template's "file" is its dump.
        const file = path.isAbsolute(record.file)
          ? record.file
          : path.join(running.config.specsDir, record.file);
        await writer.touch(file);
        sendJson(res, 202, { status: `reimport of Template "${name}" requested (touched ${record.file})` });
      },
    },
  ];

  for (const [plural, kind] of Object.entries(KIND_PATHS)) {
    routes.push(
      {
        method: 'GET',
        pattern: new RegExp(`^/api/v1/${plural}$`),
        handler: async (_q, res, _p, _u, caller) =>
          sendJson(res, 200, {
            items: (kind === 'Template' ? state.templates() : state.databases())
              .filter((r) => kind === 'Template' || access.sees(caller, ownerOf(r.object)))
              .map((r) => toApiObject(r, running.store.get(r.key)?.status)),
          }),
      },
      {
        method: 'GET',
        pattern: new RegExp(`^/api/v1/${plural}/${NAME}$`),
        handler: async (_q, res, [name], _u, caller) => {
          const object = objectOf(kind, name!);
          const owner = object.metadata.annotations?.[OWNER_ANNOTATION];
          if (kind === 'Database' && !access.sees(caller, owner))
            access.requireOwn(caller, owner, name!, 'see');
          sendJson(res, 200, object);
        },
      },
      {
        // kubectl create: only a new object (409 when it exists).
        method: 'POST',
        pattern: new RegExp(`^/api/v1/${plural}$`),
        handler: async (req, res, _p, _u, caller) => {
          const body = await readBody(req);
          const name = (body.metadata as { name?: unknown } | undefined)?.name;
          const problem = nameProblem(name);
          if (problem) throw new HttpError(400, { status: `Invalid object: metadata.name ${problem}` });
          await writeObject(kind, name as string, body, caller, res, 'create');
        },
      },
      {
        method: 'PUT',
        pattern: new RegExp(`^/api/v1/${plural}/${NAME}$`),
        handler: async (req, res, [name], _u, caller) =>
          writeObject(kind, name!, await readBody(req), caller, res, 'apply'),
      },
      {
        method: 'DELETE',
        pattern: new RegExp(`^/api/v1/${plural}/${NAME}$`),
        handler: async (_q, res, [name], _u, caller) => {
          const record = requireManaged(kind, name!);
          if (kind === 'Template') access.requireAdmin(caller, 'delete templates');
          else access.requireOwn(caller, ownerOf(record.object), name!, 'delete');
          const removed = await state.deleteObject(kind, name!);
          if (!removed)
            return sendJson(res, 202, { status: `${kind} "${name}" is being removed: it goes to the trash` });
          sendEmpty(res, 204);
        },
      },
    );
  }
  return routes;
}

/** Held or confirmed removals as the API shows them: names per kind. */
function namesByKind(keys: readonly ObjectKey[]): HeldView {
  const of = (kind: Kind) => keys.filter((k) => parseKey(k).kind === kind).map((k) => parseKey(k).name);
  return { databases: of('Database'), templates: of('Template') };
}

/** A trash entry as the API lists it: what it is and until when, never its credentials. */
function trashItem(entry: TrashEntry): TrashItemView {
  const { kind, id, name, reason, trashedAt, expiresAt } = entry;
  return {
    kind,
    id,
    name,
    reason,
    trashedAt: new Date(trashedAt).toISOString(),
    expiresAt: new Date(expiresAt).toISOString(),
    ...(entry.kind === 'Database'
      ? { template: entry.record.template, templateVersion: entry.record.templateVersion }
      : { versions: entry.versions.map((v) => v.version) }),
  };
}

/**
 * A Database as the API writes it: owned by the caller (developers cannot give one away or take
 * another's; admins may name an owner), and within the caller's quota when it is new.
 */
function ownedSpec(
  object: Record<string, unknown>,
  parsed: SpecObject,
  existing: DeclaredSpec | undefined,
  caller: Caller,
  ownedNow: number,
): Record<string, unknown> {
  const asked = parsed.metadata.annotations[OWNER_ANNOTATION];
  const owner =
    caller.role === 'admin'
      ? (asked ?? (existing ? ownerOf(existing.object) : undefined) ?? caller.name)
      : caller.name;
  const spec = { ...(object.spec as Record<string, unknown>) };
  if (!existing && parsed.kind === 'Database') {
    const ttl = applyQuota(caller, ownedNow, parsed.spec.ttlSeconds);
    if (parsed.spec.ttlSeconds === undefined && parsed.spec.expiresAt === undefined && ttl !== undefined)
      spec.ttl = ttl;
  }
  if (parsed.kind === 'Database') {
    const memory = memoryQuota(caller, parsed.spec.memoryMiB);
    if (memory !== undefined) spec.memoryMiB = memory;
  }
  const metadata = (object.metadata ?? {}) as { annotations?: Record<string, string> };
  return {
    ...object,
    metadata: { ...metadata, annotations: { ...metadata.annotations, [OWNER_ANNOTATION]: owner } },
    spec,
  };
}
