import type { ServerResponse } from 'node:http';
import type { Obj, ObjectStore, StoreEvent } from './object-store.js';
import { type Resource, apiVersionOf } from './resources.js';
import { ApiError, type Status } from './status.js';

/**
 * One open watch: a chunked JSON stream of `{type, object}` lines (api-conventions.md "Efficient
 * detection of changes"). From a resourceVersion it replays the retained changes after it, or ends with
 * an ERROR event carrying a 410 Status when they are no longer retained; without one (or "0") it starts
 * with the current objects as ADDED. With selectors, an object that starts (stops) matching arrives as
 * ADDED (DELETED), as from the watch cache.
 */
export interface WatchRequest {
  readonly resource: Resource;
  readonly namespace?: string;
  readonly labels: (labels: Record<string, string>) => boolean;
  readonly fields: (object: Record<string, unknown>) => boolean;
  readonly resourceVersion: string | null;
  readonly bookmarks: boolean;
  readonly timeoutSeconds?: number;
}

export class WatchStream {
  readonly #res: ServerResponse;
  readonly #request: WatchRequest;
  readonly #store: ObjectStore;
  #off: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;
  readonly onEnd: () => void;

  constructor(store: ObjectStore, request: WatchRequest, res: ServerResponse, onEnd: () => void) {
    this.#store = store;
    this.#request = request;
    this.#res = res;
    this.onEnd = onEnd;
  }

  start(): void {
    const { resource, resourceVersion } = this.#request;
    this.#res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    this.#res.flushHeaders();
    this.#res.on('close', () => this.#finish());
    if (!resourceVersion || resourceVersion === '0') {
      for (const object of this.#store.list(resource, this.#request.namespace))
        if (this.#matches(object)) this.#write('ADDED', object);
    } else {
      let replay: StoreEvent[];
      try {
        replay = this.#store.eventsSince(Number(resourceVersion));
      } catch (error) {
        if (!(error instanceof ApiError)) throw error;
        this.fail(error.status);
        return;
      }
      for (const event of replay) this.#send(event);
    }
    this.#off = this.#store.subscribe((event) => this.#send(event));
    if (this.#request.timeoutSeconds)
      this.#timer = setTimeout(() => this.end(), this.#request.timeoutSeconds * 1000);
  }

  /** A BOOKMARK: the resourceVersion the client has seen everything up to (only when it asked). */
  bookmark(): void {
    if (!this.#request.bookmarks || this.#ended) return;
    const { resource } = this.#request;
    this.#write('BOOKMARK', {
      kind: resource.kind,
      apiVersion: apiVersionOf(resource),
      metadata: { resourceVersion: String(this.#store.revision) },
    } as unknown as Obj);
  }

  /** Ends the stream with an ERROR event, as the server does when the watch cannot go on (410). */
  fail(status: Status): void {
    if (this.#ended) return;
    this.#res.write(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
    this.end();
  }

  /** Ends the stream cleanly (a timeout): the client watches again from its last resourceVersion. */
  end(): void {
    if (this.#ended) return;
    this.#finish();
    this.#res.end();
  }

  /** Drops the connection without a word, as a server that goes away does. */
  destroy(): void {
    this.#finish();
    this.#res.destroy();
  }

  #finish(): void {
    if (this.#ended) return;
    this.#ended = true;
    clearTimeout(this.#timer);
    this.#off?.();
    this.onEnd();
  }

  #matches(object: Obj | undefined): boolean {
    if (!object) return false;
    const { namespace, labels, fields } = this.#request;
    if (namespace !== undefined && object.metadata.namespace !== namespace) return false;
    return labels(object.metadata.labels ?? {}) && fields(object);
  }

  #send(event: StoreEvent): void {
    if (event.resource !== this.#request.resource || this.#ended) return;
    const now = this.#matches(event.object);
    const before = event.type === 'MODIFIED' ? this.#matches(event.old) : now;
    if (event.type === 'MODIFIED') {
      if (now && before) this.#write('MODIFIED', event.object);
      else if (now) this.#write('ADDED', event.object);
      else if (before) this.#write('DELETED', event.object);
    } else if (now) this.#write(event.type, event.object);
  }

  #write(type: string, object: Obj): void {
    this.#res.write(`${JSON.stringify({ type, object })}\n`);
  }
}
