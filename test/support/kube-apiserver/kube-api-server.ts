import { writeFile } from 'node:fs/promises';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { VERSION_INFO, apiGroup, apiGroupList, apiResourceList, apiVersions } from './discovery.js';
import { GarbageCollector } from './garbage-collector.js';
import { type Obj, ObjectStore, type Target } from './object-store.js';
import { openApiGroupVersion, openApiIndex } from './openapi.js';
import { PatchTestFailed, applyPatch } from './patch.js';
import { BUILTIN_RESOURCES, type Resource, apiVersionOf, resourcesOfCrd } from './resources.js';
import { StandInScheduler } from './scheduler.js';
import { parseFieldSelector, parseLabelSelector } from './selectors.js';
import {
  ApiError,
  badRequest,
  invalid,
  methodNotAllowed,
  notFound,
  pathNotFound,
  success,
  unavailable,
} from './status.js';
import { tableOf, wantsTable } from './table.js';
import { WatchStream } from './watch-stream.js';

export interface KubeApiServerOptions {
  /** CustomResourceDefinition files whose resources are served (validated against their schemas). */
  readonly crdFiles?: string[];
  /** Changes kept for watches to replay; older resourceVersions answer 410. @default 1000 */
  readonly historyLimit?: number;
  /** Namespaces that exist from the start. @default ['default', 'kube-system'] */
  readonly namespaces?: string[];
}

/** `up`: serving; `refuse`: the port refuses connections; `503`: every request answers 503. */
export type Availability = 'up' | 'refuse' | '503';

/**
 * An in-process Kubernetes API server for tests: the real wire protocol (paths, verbs, JSON bodies,
 * Status errors, chunked watches) over an in-memory store, for the resources the product uses. What it
 * implements and what it leaves out is listed in docs/kubernetes.md.
 */
export class KubeApiServer {
  readonly store: ObjectStore;
  readonly resources: Resource[];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #watches = new Set<WatchStream>();
  /** Every request served, `METHOD /path?query`, in order: what tests assert a client did. */
  readonly requests: string[] = [];
  /** The same, per bearer token (each client's identity: what its RBAC must allow). */
  readonly requestsByToken = new Map<string, string[]>();
  readonly #gc: GarbageCollector;
  readonly #scheduler: StandInScheduler;
  #availability: Availability = 'up';
  #port = 0;

  constructor(options: KubeApiServerOptions = {}) {
    this.store = new ObjectStore(
      options.historyLimit === undefined ? {} : { historyLimit: options.historyLimit },
    );
    this.resources = [...BUILTIN_RESOURCES, ...(options.crdFiles ?? []).flatMap(resourcesOfCrd)];
    this.#server = createServer((req, res) => void this.#handle(req, res));
    this.#server.on('connection', (socket) => {
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.#gc = new GarbageCollector(this.store);
    this.#scheduler = new StandInScheduler(this.store, this.resource('', 'pods'), this.resource('', 'nodes'));
    for (const name of options.namespaces ?? ['default', 'kube-system'])
      this.store.create(this.resource('', 'namespaces'), undefined, { metadata: { name } });
  }

  /** A served resource by group and plural. */
  resource(group: string, plural: string): Resource {
    const found = this.resources.find((r) => r.group === group && r.resource === plural);
    if (!found) throw new Error(`not served: ${group}/${plural}`);
    return found;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  async listen(port = 0): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, '127.0.0.1', () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
    this.#port = (this.#server.address() as AddressInfo).port;
    return this.url;
  }

  async close(): Promise<void> {
    this.#gc.stop();
    this.#scheduler.stop();
    for (const watch of this.#watches) watch.destroy();
    for (const socket of this.#sockets) socket.destroy();
    if (this.#server.listening) await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  /**
   * Makes the server unavailable (`refuse`: its port refuses connections, open connections drop;
   * `503`: it answers ServiceUnavailable and ends open watches) or available again, on the same port.
   */
  async setAvailability(availability: Availability): Promise<void> {
    const was = this.#availability;
    this.#availability = availability;
    if (availability !== 'up') for (const watch of [...this.#watches]) watch.destroy();
    if (availability === 'refuse' && was !== 'refuse') {
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      for (const socket of this.#sockets) socket.destroy();
      await closed;
    }
    if (availability !== 'refuse' && was === 'refuse') await this.listen(this.#port);
  }

  /** Sends a BOOKMARK on every open watch that asked for them (allowWatchBookmarks=true). */
  sendBookmarks(): void {
    for (const watch of this.#watches) watch.bookmark();
  }

  /**
   * Forgets the change history (an etcd compaction) and ends every open watch with an ERROR 410
   * Expired event: clients must list again (watching again from their last resourceVersion answers
   * 410 too), as after a watch broken for longer than the server keeps history.
   */
  expireWatches(): void {
    this.store.compact({ advance: true });
    for (const watch of [...this.#watches])
      watch.fail({
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Failure',
        message: 'too old resource version',
        reason: 'Expired',
        code: 410,
      });
  }

  /** Ends every open watch cleanly, as the server's watch timeout does. */
  endWatches(): void {
    for (const watch of [...this.#watches]) watch.end();
  }

  get openWatches(): number {
    return this.#watches.size;
  }

  /** A kubeconfig file pointing at this server (for kubectl, or the client's loadFromFile). */
  async writeKubeconfig(file: string, namespace = 'default'): Promise<void> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'test', cluster: { server: this.url } }],
      users: [{ name: 'test', user: { token: 'test-token' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test', namespace } }],
      'current-context': 'test',
    };
    await writeFile(file, JSON.stringify(config, null, 2));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const url = new URL(req.url ?? '/', 'http://x');
      const request = `${req.method} ${url.pathname}${url.search}`;
      this.requests.push(request);
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
      if (token) this.requestsByToken.set(token, [...(this.requestsByToken.get(token) ?? []), request]);
      if (this.#availability === '503') throw unavailable();
      const body = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(req.method ?? '')
        ? await readBody(req)
        : undefined;
      const answer = this.#route(req, res, url, body);
      if (answer === 'streaming') return;
      send(res, answer.code, answer.body);
    } catch (error) {
      if (error instanceof ApiError) send(res, error.status.code, error.status);
      else
        send(res, 500, {
          kind: 'Status',
          apiVersion: 'v1',
          metadata: {},
          status: 'Failure',
          message: String(error),
          reason: 'InternalError',
          code: 500,
        });
    }
  }

  #route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: unknown,
  ): { code: number; body: unknown } | 'streaming' {
    const path = url.pathname.replace(/\/+$/, '');
    const ok = (b: unknown) => ({ code: 200, body: b });
    if (req.method === 'GET') {
      if (path === '/version') return ok(VERSION_INFO);
      if (path === '/api') return ok(apiVersions(`127.0.0.1:${this.#port}`));
      if (path === '/apis') return ok(apiGroupList(this.resources));
      if (path === '/api/v1') return ok(apiResourceList(this.resources, '', 'v1'));
      if (path === '/openapi/v3') return ok(openApiIndex(this.resources));
      if (path.startsWith('/openapi/v3/'))
        return ok(
          openApiGroupVersion(this.resources, path.slice('/openapi/v3/'.length)) ??
            (() => {
              throw pathNotFound(path);
            })(),
        );
      const g = /^\/apis\/([^/]+)$/.exec(path);
      if (g)
        return ok(
          apiGroup(this.resources, g[1]!) ??
            (() => {
              throw pathNotFound(path);
            })(),
        );
      const gv = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path);
      if (gv)
        return ok(
          apiResourceList(this.resources, gv[1]!, gv[2]!) ??
            (() => {
              throw pathNotFound(path);
            })(),
        );
    }
    const m = /^\/(?:api\/(v1)|apis\/([^/]+)\/([^/]+))\/(.+)$/.exec(path);
    if (!m) throw pathNotFound(path);
    const group = m[2] ?? '';
    const version = m[1] ?? m[3]!;
    const segments = m[4]!.split('/').map(decodeURIComponent);
    const served = (plural: string) =>
      this.resources.find((r) => r.group === group && r.version === version && r.resource === plural);
    let namespace: string | undefined;
    let rest = segments;
    if (segments[0] === 'namespaces' && segments.length >= 3 && served(segments[2]!)) {
      namespace = segments[1];
      rest = segments.slice(2);
    }
    const [plural, name, sub, ...extra] = rest;
    const resource = served(plural!);
    if (!resource || extra.length > 0) throw pathNotFound(path);
    if (resource.namespaced && namespace === undefined && name !== undefined) throw pathNotFound(path);
    if (!resource.namespaced && namespace !== undefined) throw pathNotFound(path);
    const query = url.searchParams;
    const write = { strict: query.get('fieldValidation') === 'Strict' };

    if (name === undefined) {
      if (req.method === 'GET') {
        const labels = parseLabelSelector(query.get('labelSelector'));
        const fields = parseFieldSelector(query.get('fieldSelector'), resource.kind);
        if (query.get('watch') === 'true' || query.get('watch') === '1') {
          this.#watch(res, {
            resource,
            ...(namespace === undefined ? {} : { namespace }),
            labels,
            fields,
            resourceVersion: query.get('resourceVersion'),
            bookmarks: query.get('allowWatchBookmarks') === 'true',
            ...(query.get('timeoutSeconds') ? { timeoutSeconds: Number(query.get('timeoutSeconds')) } : {}),
          });
          return 'streaming';
        }
        // resourceVersionMatch=Exact: the list as it was then (410 Gone beyond the retained window);
        // otherwise the latest, which satisfies NotOlderThan and "any" alike.
        const exact = query.get('resourceVersionMatch') === 'Exact';
        const at = exact ? Number(query.get('resourceVersion')) : this.store.revision;
        const items = (
          exact ? this.store.listAt(resource, namespace, at) : this.store.list(resource, namespace)
        ).filter((o) => labels(o.metadata.labels ?? {}) && fields(o));
        if (wantsTable(req.headers.accept)) return ok(tableOf(resource, items, String(at)));
        return ok({
          kind: resource.listKind,
          apiVersion: apiVersionOf(resource),
          metadata: { resourceVersion: String(at) },
          items,
        });
      }
      if (req.method === 'POST') {
        if (resource.namespaced) this.#requireNamespace(namespace!);
        return { code: 201, body: this.store.create(resource, namespace, asObject(body), write) };
      }
      throw methodNotAllowed('the server does not allow this method on the requested resource');
    }

    if (sub === 'binding' && resource.kind === 'Pod' && req.method === 'POST') {
      const target = (asObject(body) as { target?: { name?: string } }).target?.name;
      if (!target)
        throw invalid(resource, name, [
          { reason: 'FieldValueRequired', message: 'Required value', field: 'target.name' },
        ]);
      this.#scheduler.bind(namespace!, name, target);
      return { code: 201, body: success() };
    }
    if (sub !== undefined && !(sub === 'status' && resource.statusSubresource)) throw pathNotFound(path);
    const targetOf: Target = sub === 'status' ? 'status' : 'main';

    switch (req.method) {
      case 'GET': {
        const object = this.store.get(resource, namespace, name);
        return ok(
          wantsTable(req.headers.accept) && !sub
            ? tableOf(resource, [object], String(this.store.revision))
            : object,
        );
      }
      case 'PUT':
        return ok(this.store.update(resource, namespace, name, asObject(body), targetOf, write));
      case 'PATCH': {
        const current = this.store.get(resource, namespace, name);
        let patched: Obj;
        try {
          patched = applyPatch(req.headers['content-type'] ?? '', current, body) as Obj;
        } catch (error) {
          if (error instanceof PatchTestFailed)
            throw invalid(resource, name, [
              { reason: 'FieldValueInvalid', message: error.message, field: error.path },
            ]);
          throw error;
        }
        return ok(this.store.update(resource, namespace, name, patched, targetOf, write));
      }
      case 'DELETE': {
        if (sub) throw methodNotAllowed('the server does not allow this method on the requested resource');
        const options = (body ?? {}) as {
          propagationPolicy?: string;
          preconditions?: { uid?: string; resourceVersion?: string };
          gracePeriodSeconds?: number;
        };
        const policy = query.get('propagationPolicy') ?? options.propagationPolicy ?? 'Background';
        if (policy !== 'Background')
          throw badRequest(
            `propagationPolicy ${policy} is not implemented by this test server (Background only)`,
          );
        // A Pod bound to a node is deleted gracefully: marked (deletionTimestamp), and gone once its
        // kubelet has stopped the containers and deletes it with grace 0. An unbound Pod goes at once.
        let grace = 0;
        if (resource.kind === 'Pod') {
          const pod = this.store.get(resource, namespace, name) as Obj & {
            spec?: { nodeName?: string; terminationGracePeriodSeconds?: number };
          };
          const asked = query.get('gracePeriodSeconds') ?? options.gracePeriodSeconds;
          if (pod.spec?.nodeName)
            grace = asked === undefined ? (pod.spec.terminationGracePeriodSeconds ?? 30) : Number(asked);
        }
        const { object, deleted } = this.store.delete(
          resource,
          namespace,
          name,
          options.preconditions ?? {},
          grace,
        );
        // Custom resources and Pods answer with the object; other built-ins with a Success Status.
        const returnsObject = resource.validator !== undefined || resource.kind === 'Pod';
        const answer = returnsObject
          ? object
          : success({
              name,
              group: resource.group,
              kind: resource.resource,
              ...({ uid: object.metadata.uid } as object),
            });
        return { code: deleted ? 200 : 202, body: answer };
      }
      default:
        throw methodNotAllowed('the server does not allow this method on the requested resource');
    }
  }

  #requireNamespace(namespace: string): void {
    if (!this.store.find(this.resource('', 'namespaces'), undefined, namespace))
      throw notFound(this.resource('', 'namespaces'), namespace);
  }

  #watch(res: ServerResponse, request: ConstructorParameters<typeof WatchStream>[1]): void {
    const stream = new WatchStream(this.store, request, res, () => this.#watches.delete(stream));
    this.#watches.add(stream);
    stream.start();
  }
}

function asObject(body: unknown): Obj {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw badRequest('the body of the request is not a JSON object');
  const object = body as Obj;
  object.metadata = { ...((object.metadata as object | undefined) ?? {}) } as Obj['metadata'];
  return object;
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw badRequest('the body of the request could not be decoded as JSON');
  }
}

function send(res: ServerResponse, code: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  res.writeHead(code, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify(body));
}
