import {
  ADD,
  DELETE,
  ERROR,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  ListWatch,
  UPDATE,
  Watch,
} from '@kubernetes/client-node';
import type { Logger } from '../../log.js';
import type { CustomResource } from './custom-resources.js';

export type InformerEvent = 'add' | 'update' | 'delete';

export interface ResourceInformerOptions {
  readonly kubeConfig: KubeConfig;
  /** The collection's list/watch path, e.g. /apis/myaas.dev/v1alpha1/namespaces/ns/databases. */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<KubernetesObject>>;
  /** Watched with these selectors (the list must use the same ones). */
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly log: Logger;
  /** Called for every object added, changed or deleted (by a watch event or a re-list). */
  readonly onObject: (event: InformerEvent, object: CustomResource) => void;
  /** Wait after a failed list or watch before the next try: doubles up to the maximum. @default 500 */
  readonly retryMinMs?: number;
  /** @default 30000 */
  readonly retryMaxMs?: number;
}

/**
 * One collection through the official client's informer (`ListWatch`: list, then watch from the list's
 * resourceVersion; on 410 Gone it lists again and reports only what really changed, keeping its cache
 * meanwhile). What it adds: availability (false from a failed list or watch until one succeeds again),
 * and the restart the client leaves to its caller after any error other than 410, with backoff.
 */
export class ResourceInformer {
  readonly #options: ResourceInformerOptions;
  readonly #log: Logger;
  readonly #informer: ListWatch<KubernetesObject>;
  #synced = false;
  #available = false;
  #lastError = '';
  #retryMs: number;
  #retryTimer: NodeJS.Timeout | undefined;
  #stopped = false;
  #firstList: { resolve: () => void; promise: Promise<void> };

  constructor(options: ResourceInformerOptions) {
    this.#options = options;
    this.#log = options.log.child({ informer: options.path });
    this.#retryMs = options.retryMinMs ?? 500;
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => {
      resolve = r;
    });
    this.#firstList = { promise, resolve };
    // The client's Watch, reporting when a watch request was accepted: the server is reachable again
    // even when the informer resumes from its resourceVersion without listing.
    const informer = this;
    class ReportingWatch extends Watch {
      override async watch(...args: Parameters<Watch['watch']>): ReturnType<Watch['watch']> {
        const [path, query, callback, done] = args;
        let failed = false;
        const request = await super.watch(path, query, callback, (error: unknown) => {
          if (error) failed = true;
          done(error);
        });
        if (!failed) informer.#succeeded();
        return request;
      }
    }
    const list = async () => {
      const result = await options.list();
      this.#succeeded(true);
      return result;
    };
    this.#informer = new ListWatch(
      options.path,
      new ReportingWatch(options.kubeConfig),
      list,
      false,
      options.labelSelector,
      options.fieldSelector,
    );
    // Custom objects come as the server's JSON (timestamps are strings): CustomResource says so.
    const as = (object: KubernetesObject) => object as unknown as CustomResource;
    this.#informer.on(ADD, (object) => options.onObject('add', as(object)));
    this.#informer.on(UPDATE, (object) => options.onObject('update', as(object)));
    this.#informer.on(DELETE, (object) => options.onObject('delete', as(object)));
    this.#informer.on(ERROR, (error) => this.#failed(error));
  }

  /** True once a first list has been read: before it, nothing is known. */
  get synced(): boolean {
    return this.#synced;
  }

  /** False from a failed list or watch until a list or watch succeeds again. */
  get available(): boolean {
    return this.#available;
  }

  get lastError(): string {
    return this.#lastError;
  }

  /** Starts listing and watching; resolves once the first list has been read (however many tries). */
  async start(): Promise<void> {
    void this.#informer.start();
    await this.#firstList.promise;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    this.#firstList.resolve();
    await this.#informer.stop();
  }

  #succeeded(listed = false): void {
    this.#retryMs = this.#options.retryMinMs ?? 500;
    if (!this.#available && this.#lastError) this.#log.info('API server reachable again');
    this.#available = true;
    this.#lastError = '';
    if (listed && !this.#synced) {
      this.#synced = true;
      this.#firstList.resolve();
    }
  }

  #failed(error: unknown): void {
    // Stopping aborts the open watch, which the client reports as an error: not an outage.
    if (this.#stopped) return;
    const message = describe(error);
    if (this.#available || message !== this.#lastError)
      this.#log.warn(
        { err: message, retryMs: this.#retryMs },
        'list/watch failed: nothing counts as absent until it works again',
      );
    this.#available = false;
    this.#lastError = message;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => {
      if (!this.#stopped) void this.#informer.start();
    }, this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, this.#options.retryMaxMs ?? 30_000);
  }
}

function describe(error: unknown): string {
  const e = error as { code?: unknown; statusCode?: number; message?: string; body?: unknown } | undefined;
  if (typeof e?.code === 'number') return `HTTP ${e.code}: ${e.message ?? ''}`.trim();
  if (e?.statusCode) return `HTTP ${e.statusCode}: ${e.message ?? ''}`.trim();
  return e?.message ?? String(error);
}
