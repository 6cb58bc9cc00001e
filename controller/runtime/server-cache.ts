import type { Logger } from '../log.js';
import type { Runtime, RuntimeEvent, ServerControl, ServerInfo, ServerSpec } from './runtime.js';

export interface ServerCacheOptions {
  readonly log: Logger;
  /**
   * A full re-list this often, whatever the events: what a lost event left stale is found here.
   * @default 30000
   */
  readonly relistMs?: number;
}

/** The runtime could not be listed: nothing it holds may be taken for gone (DESIGN.md, safety rules). */
export class ServersUnavailableError extends Error {}

/** Where the snapshot stands, for tests, metrics and logs. */
export interface ServerCacheState {
  /** True before the first good listing and after a failed one, until the next good one. */
  readonly stale: boolean;
  /** Epoch ms of the last good listing (0: none yet). */
  readonly listedAt: number;
  /** Listings asked of the runtime so far (good or failed). */
  readonly lists: number;
}

type Write = { readonly seq: number; readonly apply: (servers: Map<string, ServerInfo>) => void };

/**
 * The runtime's servers as an informer keeps them: `list()` answers from a snapshot instead of asking
 * dockerd (or the run dir) once per reconcile, which made a resync pass over N objects cost N
 * listings. The snapshot is re-listed on every runtime event (coalesced: one listing in flight, one
 * queued behind it), on a period (events can be lost), and holds this controller's own creates and
 * removes at once, so a reconcile reads its own writes.
 *
 * Safety (DESIGN.md): a listing that fails keeps the last snapshot but marks it stale, and while it is
 * stale `list()` throws instead of answering: a reconcile that would recreate or remove on absence
 * never acts on a picture the runtime could not confirm. `inspect` asks the runtime for running
 * servers (liveness while a server starts, exit codes after a stop must be exact); a stopped server
 * whose listing has not changed since it was last inspected is answered from memory.
 */
export class ServerCache implements ServerControl {
  readonly #runtime: ServerControl;
  readonly #log: Logger;
  #servers = new Map<string, ServerInfo>();
  /** Inspect results of stopped servers, with the listing they were taken against. */
  readonly #inspected = new Map<string, { readonly info: ServerInfo; readonly listed: string }>();
  #stale = true;
  #listedAt = 0;
  #lists = 0;
  /** Own writes, numbered: replayed over a listing that started before they were made. */
  #seq = 0;
  #writes: Write[] = [];
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;
  /** The listing an event asked for, until it is done: `list()` waits for it. */
  #afterEvent: Promise<void> | undefined;
  readonly #listeners = new Set<(event: RuntimeEvent) => void>();
  readonly #relistMs: number;
  #unwatch: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(runtime: ServerControl, options: ServerCacheOptions) {
    this.#runtime = runtime;
    this.#log = options.log.child({ component: 'server-cache' });
    this.#relistMs = options.relistMs ?? 30_000;
  }

  /** Watches the runtime from the first use on (a controller that fails to start leaves no watch behind). */
  #start(): void {
    if (this.#unwatch || this.#closed) return;
    this.#unwatch = this.#runtime.watch((event) => this.#onEvent(event));
    this.#timer = setInterval(() => void this.refresh().catch(() => undefined), this.#relistMs);
    this.#timer.unref();
  }

  get state(): ServerCacheState {
    return { stale: this.#stale, listedAt: this.#listedAt, lists: this.#lists };
  }

  /** Stops watching and re-listing; the runtime underneath is not closed. */
  close(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#unwatch?.();
    this.#listeners.clear();
  }

  async list(): Promise<ServerInfo[]> {
    this.#start();
    // What an event said has happened is in the answer: the listing it asked for is waited for.
    if (this.#afterEvent) await this.#afterEvent.catch(() => undefined);
    if (this.#stale) await this.refresh();
    return [...this.#servers.values()];
  }

  async inspect(id: string): Promise<ServerInfo | undefined> {
    const listed = this.#servers.get(id);
    const remembered = this.#inspected.get(id);
    if (!this.#stale && listed && !listed.running && remembered?.listed === signatureOf(listed))
      return remembered.info;
    const info = await this.#runtime.inspect(id);
    if (info && !info.running && listed && !listed.running)
      this.#inspected.set(id, { info, listed: signatureOf(listed) });
    else this.#inspected.delete(id);
    return info;
  }

  async create(spec: ServerSpec): Promise<ServerInfo> {
    let info: ServerInfo;
    try {
      info = await this.#runtime.create(spec);
    } catch (error) {
      // A failed create may leave or remove a container: look again rather than guess.
      void this.refresh().catch(() => undefined);
      throw error;
    }
    this.#write((servers) => servers.set(info.id, info));
    return info;
  }

  async stop(id: string, timeoutSeconds: number): Promise<void> {
    this.#inspected.delete(id);
    try {
      await this.#runtime.stop(id, timeoutSeconds);
    } finally {
      // The listing says what a stop left (exit code, state) as every other listing does.
      await this.refresh().catch(() => undefined);
    }
  }

  async pause(id: string): Promise<void> {
    try {
      await this.#runtime.pause(id);
    } finally {
      await this.refresh().catch(() => undefined);
    }
  }

  async resume(id: string): Promise<void> {
    try {
      await this.#runtime.resume(id);
    } finally {
      await this.refresh().catch(() => undefined);
    }
  }

  async remove(id: string): Promise<void> {
    this.#inspected.delete(id);
    await this.#runtime.remove(id);
    this.#write((servers) => servers.delete(id));
  }

  logs(id: string, lines: number): Promise<string> {
    return this.#runtime.logs(id, lines);
  }

  /** Events are passed on once the listing they asked for is done: a reconcile they trigger sees them. */
  watch(onEvent: (event: RuntimeEvent) => void): () => void {
    this.#start();
    this.#listeners.add(onEvent);
    return () => this.#listeners.delete(onEvent);
  }

  /**
   * Lists the runtime again; resolves when a listing that started after this call is done (rejects
   * with ServersUnavailableError when it failed). Calls while one runs share the one queued behind it.
   */
  refresh(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (this.#running) {
      const queued = this.#running
        .catch(() => undefined)
        .then(() => {
          this.#queued = undefined;
          return this.#run();
        });
      this.#queued = queued;
      return queued;
    }
    return this.#run();
  }

  #run(): Promise<void> {
    const run = this.#listOnce().finally(() => {
      if (this.#running === run) this.#running = undefined;
    });
    this.#running = run;
    return run;
  }

  async #listOnce(): Promise<void> {
    const startedAt = this.#seq;
    this.#lists++;
    let listed: ServerInfo[];
    try {
      listed = await this.#runtime.list();
    } catch (error) {
      const message = (error as Error).message;
      if (!this.#stale)
        this.#log.warn(
          { err: error },
          'servers could not be listed: the last listing is kept but not acted on until a listing succeeds',
        );
      this.#stale = true;
      throw new ServersUnavailableError(
        `the runtime's servers could not be listed (${message}): nothing is taken for gone until they can be; check the runtime (dockerd, the run dir)`,
      );
    }
    const servers = new Map(listed.map((s) => [s.id, s]));
    // Own writes made while this listing ran may be missing from it: they are applied again.
    for (const write of this.#writes) if (write.seq > startedAt) write.apply(servers);
    this.#writes = this.#writes.filter((w) => w.seq > startedAt);
    for (const id of this.#inspected.keys()) if (!servers.has(id)) this.#inspected.delete(id);
    if (this.#stale && this.#listedAt > 0) this.#log.info('servers listed again: the snapshot is fresh');
    this.#servers = servers;
    this.#stale = false;
    this.#listedAt = Date.now();
  }

  #write(apply: (servers: Map<string, ServerInfo>) => void): void {
    const write = { seq: ++this.#seq, apply };
    this.#writes.push(write);
    apply(this.#servers);
  }

  #onEvent(event: RuntimeEvent): void {
    if (this.#closed) return;
    if (event.id) this.#inspected.delete(event.id);
    // A reconnected event stream may have missed anything: every event re-lists in full anyway.
    const listed = this.refresh();
    this.#afterEvent = listed;
    void listed
      .catch(() => undefined)
      .then(() => {
        if (this.#afterEvent === listed) this.#afterEvent = undefined;
        for (const listener of this.#listeners) listener(event);
      });
  }
}

/** What a listing says of a server that would make a remembered inspect out of date. */
function signatureOf(server: ServerInfo): string {
  return `${server.running}:${server.exitCode ?? ''}:${server.createdAt}`;
}

/** The same runtime, its servers served from a ServerCache (the reconcilers see no difference). */
export function withServerCache(runtime: Runtime, options: ServerCacheOptions): Runtime {
  const servers = new ServerCache(runtime.servers, options);
  return {
    name: runtime.name,
    connectHost: runtime.connectHost,
    servers,
    programs: runtime.programs,
    datadirs: runtime.datadirs,
    async close() {
      servers.close();
      await runtime.close();
    },
  };
}
