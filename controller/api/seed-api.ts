import path from 'node:path';
import {
  API_VERSION,
  type DatabaseObject,
  type DeclaredSpec,
  INCARNATION_ANNOTATION,
  OWNER_ANNOTATION,
  type ServerState,
} from '../objects/index.js';
import { DURATION_HELP, parseDuration } from '../spec/duration.js';
import { NAME_HELP, isValidName, nameProblem } from '../spec/names.js';
import { since } from '../util/uptime.js';
import { access, applyQuota, memoryQuota, ownerOf } from './access.js';
import { ApiState } from './api-state.js';
import type { Caller } from './auth.js';
import { HttpError, readBody, sendEmpty, sendJson } from './http.js';
import { canonicalName, seedTemplateName } from './objects.js';
import type { ApiContext, Route } from './routes.js';

const NAME = '([^/]+)';
const DEFAULT_TTL_SECONDS = 86_400;

function epochSeconds(iso: string | undefined): number | undefined {
  return iso ? Date.parse(iso) / 1000 : undefined;
}

/** The original's database body: port as a string, created as an integer, expires_at as a string. */
function seedDatabaseBody(state: ApiState, record: DeclaredSpec, caller: Caller) {
  const name = record.object.metadata.name;
  const stored = state.databaseStatus(name);
  const status = stored?.status;
  const expires = epochSeconds(status?.expiresAt);
  return {
    database: status?.connection?.database ?? state.context.running.config.defaultDatabase,
    host: status?.connection?.host ?? state.context.running.config.hostname,
    name,
    port: status?.connection ? String(status.connection.port) : '',
    user: status?.connection?.user ?? state.context.running.config.databaseUser,
    // Viewers, and developers for others' databases, never see it.
    password: access.seesSecrets(caller, ownerOf(record.object)) ? (stored?.record.user.password ?? '') : '',
    running: status?.phase === 'Ready',
    status:
      status?.phase === 'Ready' && status.readySince
        ? `Up ${since(Date.parse(status.readySince))}`
        : (dockerWords(status?.server) ?? status?.phase ?? 'Pending'),
    created: Math.floor(epochSeconds(status?.createdAt) ?? Date.now() / 1000),
    ...(expires !== undefined ? { expires_at: String(expires) } : {}),
  };
}

function seedTemplateOf(state: ApiState, record: DeclaredSpec): string {
  // A branch has no template of its own: the original API knows it by the one under its data.
  const own =
    (record.object as DatabaseObject).spec.template ??
    state.databaseStatus(record.object.metadata.name)?.status.template ??
    '';
  const template = state.findTemplate(own);
  return template ? seedTemplateName(template) : own;
}

/** A ttl as specs take it: seconds (`3600`, as the original API) or `30s`, `15m`, `8h`, `7d`. */
export function parseTtl(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const seconds = parseDuration(typeof value === 'number' ? value : String(value));
  if (seconds === undefined) {
    throw new HttpError(400, {
      status: `Invalid ttl ${JSON.stringify(value)}: give ${DURATION_HELP}, e.g. 3600 or 1h`,
    });
  }
  return seconds;
}

/**
 * The name a database is created under: the original API's `_` reads as `-` (documented), anything
 * else that is not a DNS label is refused, never rewritten (`MyDB` would silently become another name).
 */
export function seedDatabaseName(raw: string): string {
  const name = canonicalName(raw);
  if (nameProblem(name)) {
    const lower = name.toLowerCase();
    throw new HttpError(400, {
      status: `Invalid database name "${raw}": ${NAME_HELP} (the original API's _ reads as -)${lower !== name && isValidName(lower) ? `; did you mean "${lower}"?` : ''}`,
    });
  }
  return name;
}

export function seedRoutes(context: ApiContext): Route[] {
  const state = new ApiState(context);
  const readyTemplates = () =>
    state
      .templates()
      .filter((t) => state.templateStatus(t.object.metadata.name)?.status.currentVersion)
      .map(seedTemplateName);

  /**
   * The database of that name, if it exists and belongs to that template (else 404, as the original),
   * also when its template is gone: a clone outlives its template, and must stay reachable.
   */
  const findDatabase = (templateName: string, name: string): DeclaredSpec => {
    const record = state.context.running.desired.get(`Database/${canonicalName(name)}`);
    if (!record || !state.belongsTo(record, templateName) || isExpired(record.object.metadata.name)) {
      throw new HttpError(404, { status: 'Not found' });
    }
    return record;
  };

  /** Expired databases are gone for the original API (404, not listed); the native API still shows them. */
  const isExpired = (name: string) => state.databaseStatus(name)?.status.phase === 'Expired';
  const liveDatabases = (caller: Caller) =>
    state
      .databases()
      .filter((d) => !isExpired(d.object.metadata.name) && access.sees(caller, ownerOf(d.object)));

  /**
   * A repeated POST for a database the idle watch stopped: the original service never kept a stopped
   * database (its reaper removed exited ones), so its clients take "exists" (304) to mean "running, use
   * it". Such a POST is a start request instead: the database starts again with its data, port and
   * credentials, and the answer is the original's for a database made for the caller (201 with the
   * GET body, once it accepts connections; 202 with `?wait=false`).
   */
  const startIdleStopped = async (
    record: DeclaredSpec,
    caller: Caller,
    wait: boolean,
    res: Parameters<Route['handler']>[1],
  ): Promise<boolean> => {
    const name = record.object.metadata.name;
    access.requireOwn(caller, ownerOf(record.object), name, 'start');
    if (!(await state.context.running.controller.requestStart(name, caller.name))) return false;
    if (wait) {
      const ready = () => ['Ready', 'Failed'].includes(state.databaseStatus(name)?.status.phase ?? '');
      await state.waitFor(`Database/${name}`, ready, context.waitSeconds * 1000);
    }
    const phase = state.databaseStatus(name)?.status.phase;
    sendJson(res, phase === 'Ready' ? 201 : 202, seedDatabaseBody(state, record, caller));
    return true;
  };
  /** A repeated POST for a database of that template: it exists (304), unless it was stopped for idleness. */
  const repeatedPost = async (
    existing: DeclaredSpec,
    caller: Caller,
    url: URL,
    res: Parameters<Route['handler']>[1],
  ) => {
    const wait = url.searchParams.get('wait') !== 'false';
    const idleStopped = state.databaseStatus(existing.object.metadata.name)?.record.idleStopped;
    if (idleStopped && (await startIdleStopped(existing, caller, wait, res))) return;
    sendEmpty(res, 304);
  };

  return [
    {
      method: 'GET',
      pattern: /^\/$/,
      handler: async (_req, res, _p, _u, caller) =>
        sendJson(res, 200, {
          status: 'Service is running',
          templates: readyTemplates(),
          databases: liveDatabases(caller).map(
            (d) => `${seedTemplateOf(state, d)},${d.object.metadata.name}`,
          ),
        }),
    },
    {
      method: 'GET',
      pattern: /^\/templates$/,
      handler: async (_req, res) => sendJson(res, 200, { templates: readyTemplates() }),
    },
    {
      method: 'GET',
      pattern: /^\/db$/,
      handler: async (_req, res, _p, _u, caller) =>
        sendJson(res, 200, {
          databases: liveDatabases(caller).map((d) => {
            const { name, status, created, expires_at } = seedDatabaseBody(state, d, caller);
            return {
              template: seedTemplateOf(state, d),
              name,
              state: status,
              created,
              ...(expires_at ? { expires_at } : {}),
            };
          }),
        }),
    },
    {
      method: 'GET',
      pattern: new RegExp(`^/db/${NAME}/${NAME}$`),
      handler: async (_req, res, [template, name], _u, caller) => {
        const record = findDatabase(template!, name!);
        if (!access.sees(caller, ownerOf(record.object)))
          access.requireOwn(caller, ownerOf(record.object), record.object.metadata.name, 'see');
        sendJson(res, 200, seedDatabaseBody(state, record, caller));
      },
    },
    {
      method: 'POST',
      pattern: new RegExp(`^/db/${NAME}/${NAME}$`),
      handler: async (req, res, [templateName, rawName], url, caller) => {
        access.requireCreate(caller);
        const name = seedDatabaseName(rawName!);
        const existing = state.context.running.desired.get(`Database/${name}`);
        const expired = existing !== undefined && isExpired(name);
        const template = state.findTemplate(templateName!);
        if (!template) {
          // Its template is gone, the database is not: it exists, as for any other repeated POST.
          if (existing && !expired && state.belongsTo(existing, templateName!))
            return repeatedPost(existing, caller, url, res);
          throw new HttpError(404, { status: `Template "${templateName}" does not exist.` });
        }
        const body = await readBody(req);
        const asked = parseTtl(body.ttl ?? url.searchParams.get('ttl') ?? undefined);
        if (existing && !expired) {
          const owner = ownerOf(existing.object);
          if (!access.sees(caller, owner))
            throw new HttpError(409, {
              status: `Database "${name}" exists and belongs to ${owner ?? 'the operator'}; choose another name`,
            });
          if (state.belongsTo(existing, templateName!)) return repeatedPost(existing, caller, url, res);
          throw new HttpError(409, {
            status: `Database "${name}" exists for template "${existing.object.spec.template}"; choose another name`,
          });
        }
        if (!existing && state.databaseStatus(name)) {
          throw new HttpError(409, {
            status: `Database "${name}" is being deleted; retry in a few seconds (its data goes to the trash)`,
          });
        }
        if (expired && path.normalize(existing.file) !== context.writer.relativeFile('Database', name)) {
          throw new HttpError(409, {
            status: `Database "${name}" expired and is declared in ${existing.file}: change it there for a fresh one`,
          });
        }
        const ttl = applyQuota(caller, state.ownedBy(caller.name), asked) ?? DEFAULT_TTL_SECONDS;
        const templateState = state.templateStatus(template.object.metadata.name);
        if (!templateState?.status.currentVersion) {
          const importing = templateState?.status.phase !== 'Failed';
          throw new HttpError(423, {
            status: importing
              ? 'Database not available, content is being imported.'
              : `Database not available: the template failed to import (${templateState?.status.message ?? 'see its status'})`,
          });
        }
        const spec = {
          apiVersion: API_VERSION,
          kind: 'Database',
          // An expired one is declared anew: a changed spec after expiry makes a fresh database
          // (the expired data stays restorable in the trash).
          metadata: {
            name,
            annotations: {
              [OWNER_ANNOTATION]: caller.name,
              ...(expired ? { [INCARNATION_ANNOTATION]: new Date().toISOString() } : {}),
            },
          },
          spec: {
            template: template.object.metadata.name,
            ttl,
            ...(memoryQuota(caller, undefined) !== undefined
              ? { memoryMiB: memoryQuota(caller, undefined) }
              : {}),
          },
        };
        if (expired) await context.writer.put('Database', name, spec);
        else if (!(await context.writer.create('Database', name, spec))) return sendEmpty(res, 304); // a concurrent request made it first
        const key = `Database/${name}` as const;
        const wait = url.searchParams.get('wait') !== 'false';
        const appeared = await state.waitFor(
          key,
          () => Boolean(state.context.running.desired.get(key)) && !isExpired(name),
          10_000,
        );
        if (!appeared)
          throw new HttpError(500, {
            status: `The spec was written to ${context.writer.file('Database', name)} but the controller did not see it`,
          });
        if (!wait)
          return sendJson(res, 202, seedDatabaseBody(state, state.context.running.desired.get(key)!, caller));
        const done = () => ['Ready', 'Failed'].includes(state.databaseStatus(name)?.status.phase ?? '');
        await state.waitFor(key, done, context.waitSeconds * 1000);
        const record = state.context.running.desired.get(key)!;
        const phase = state.databaseStatus(name)?.status.phase;
        return sendJson(res, phase === 'Ready' ? 201 : 202, seedDatabaseBody(state, record, caller));
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/db/${NAME}/${NAME}$`),
      handler: async (_req, res, [template, name], _u, caller) => {
        const record = findDatabase(template!, name!);
        access.requireOwn(caller, ownerOf(record.object), record.object.metadata.name, 'delete');
        const managed = context.writer.relativeFile('Database', record.object.metadata.name);
        if (path.normalize(record.file) !== managed) {
          throw new HttpError(409, {
            status: `Database "${record.object.metadata.name}" is declared in ${record.file}: remove it there`,
          });
        }
        const removed = await state.deleteObject('Database', record.object.metadata.name);
        if (!removed)
          return sendJson(res, 202, { status: 'Deletion in progress: its data goes to the trash' });
        return sendEmpty(res, 204);
      },
    },
  ];
}

/** A server's state as Docker says it ("Up 2 hours", "Exited (0) 5 minutes ago"): the original API showed that. */
function dockerWords(server: ServerState | undefined): string | undefined {
  if (!server) return undefined;
  const ago = server.since ? since(Date.parse(server.since)) : undefined;
  if (server.running) return ago ? `Up ${ago}` : 'Up';
  return `Exited (${server.exitCode ?? 0})${ago ? ` ${ago} ago` : ''}`;
}
