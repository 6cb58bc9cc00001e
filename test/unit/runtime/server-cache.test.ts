import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../controller/log.js';
import type { RuntimeEvent, ServerInfo, ServerSpec } from '../../../controller/runtime/runtime.js';
import { ServerCache, ServersUnavailableError } from '../../../controller/runtime/server-cache.js';
import { FakeServers } from '../../support/fakes.js';

/** FakeServers whose listings can be counted, held open, or failed, and that emits events on demand. */
class ListedServers extends FakeServers {
  lists = 0;
  inspects = 0;
  failLists: Error | undefined;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #listeners = new Set<(event: RuntimeEvent) => void>();

  /** The next listings wait until `open()`; they read the servers as they are then. */
  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }
  open(): void {
    this.#open?.();
    this.#gate = undefined;
  }
  override async list(): Promise<ServerInfo[]> {
    this.lists++;
    if (this.#gate) await this.#gate;
    if (this.failLists) throw this.failLists;
    return super.list();
  }
  override async inspect(id: string): Promise<ServerInfo | undefined> {
    this.inspects++;
    return super.inspect(id);
  }
  override watch(onEvent: (event: RuntimeEvent) => void): () => void {
    this.#listeners.add(onEvent);
    return () => this.#listeners.delete(onEvent);
  }
  emit(event: RuntimeEvent): void {
    for (const listener of this.#listeners) listener(event);
  }
  /** A server that appears or changes behind the controller's back (as dockerd would report it). */
  put(info: ServerInfo): void {
    this.set(info.id, { ...info, spec: {} as ServerSpec });
  }
}

const spec = (owner: string) =>
  ({ role: 'Database', owner, template: 't', templateVersion: 'v1' }) as unknown as ServerSpec;
const server = (id: string, owner: string, running = true): ServerInfo => ({
  id,
  role: 'Database',
  owner,
  templateVersion: 'v1',
  running,
  createdAt: 1,
  ...(running ? {} : { exitCode: 0 }),
});
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

describe('ServerCache', () => {
  let cache: ServerCache | undefined;
  afterEach(() => cache?.close());
  const make = (runtime: ListedServers, relistMs = 60_000) => {
    cache = new ServerCache(runtime, { log: silentLogger, relistMs });
    return cache;
  };

  it('answers many lists from one listing', async () => {
    const runtime = new ListedServers();
    runtime.put(server('a', 'one'));
    const c = make(runtime);
    for (let i = 0; i < 100; i++) expect((await c.list()).map((s) => s.id)).toEqual(['a']);
    expect(runtime.lists).toBe(1);
  });

  it('re-lists on a runtime event and passes the event on only once the listing shows it', async () => {
    const runtime = new ListedServers();
    runtime.put(server('a', 'one'));
    const c = make(runtime);
    await c.list();
    const seen: { event: RuntimeEvent; running: boolean | undefined }[] = [];
    c.watch((event) => {
      // What a reconcile triggered by the event would read, read synchronously from the snapshot.
      void c.list().then((list) => seen.push({ event, running: list.find((s) => s.id === 'a')?.running }));
    });
    runtime.put(server('a', 'one', false));
    runtime.emit({ id: 'a', role: 'Database', owner: 'one', action: 'die' });
    // A list right after the event waits for the listing the event asked for.
    expect((await c.list()).find((s) => s.id === 'a')?.running).toBe(false);
    await tick();
    expect(seen).toEqual([
      { event: { id: 'a', role: 'Database', owner: 'one', action: 'die' }, running: false },
    ]);
    expect(runtime.lists).toBe(2);
  });

  it('coalesces a burst of events: one listing in flight, one queued behind it', async () => {
    const runtime = new ListedServers();
    const c = make(runtime);
    await c.list();
    runtime.hold();
    for (let i = 0; i < 50; i++) runtime.emit({ role: 'Database', owner: `d${i}`, action: 'start' });
    await tick();
    expect(runtime.lists).toBe(2); // the first listing and the one the first event started
    runtime.put(server('late', 'late'));
    runtime.open();
    const listed = await c.list();
    // The queued listing ran after the held one and saw what changed meanwhile; nothing more ran.
    expect(listed.map((s) => s.id)).toEqual(['late']);
    expect(runtime.lists).toBe(3);
  });

  it('reads its own writes at once, even against a listing that started before them', async () => {
    const runtime = new ListedServers();
    const c = make(runtime);
    await c.list();
    runtime.hold();
    // A listing starts now and will answer from before the create...
    const early = runtime.list();
    const refresh = c.refresh();
    const created = await c.create(spec('mine'));
    expect((await c.list()).map((s) => s.id)).toContain(created.id);
    // ...and when it ends, the create is still in the snapshot.
    const before = [...runtime.values()];
    runtime.clear();
    runtime.open();
    await refresh;
    await early;
    expect((await c.list()).map((s) => s.id)).toContain(created.id);
    for (const s of before) runtime.set(s.id, s);
    await c.remove(created.id);
    expect((await c.list()).map((s) => s.id)).not.toContain(created.id);
  });

  it('a stop re-lists before it resolves: the server shows stopped with its exit code', async () => {
    const runtime = new ListedServers();
    const c = make(runtime);
    const created = await c.create(spec('mine'));
    await c.stop(created.id, 1);
    const listed = (await c.list()).find((s) => s.id === created.id);
    expect(listed).toMatchObject({ running: false, exitCode: 0 });
  });

  it('a failed listing keeps the snapshot but list() refuses to answer from it until a listing succeeds', async () => {
    const runtime = new ListedServers();
    runtime.put(server('a', 'one'));
    const c = make(runtime);
    await c.list();
    runtime.failLists = new Error('connect ENOENT /var/run/docker.sock');
    runtime.emit({ role: 'Database', owner: '', action: 'reconnect' });
    await tick();
    expect(c.state.stale).toBe(true);
    // Never "everything is gone": an error, not an empty list nor the unconfirmed old one.
    await expect(c.list()).rejects.toBeInstanceOf(ServersUnavailableError);
    await expect(c.list()).rejects.toThrow(/could not be listed.*docker\.sock.*nothing is taken for gone/);
    runtime.failLists = undefined;
    expect((await c.list()).map((s) => s.id)).toEqual(['a']);
    expect(c.state.stale).toBe(false);
  });

  it('a failed first listing is no empty runtime either', async () => {
    const runtime = new ListedServers();
    runtime.put(server('a', 'one'));
    runtime.failLists = new Error('dockerd down');
    const c = make(runtime);
    await expect(c.list()).rejects.toBeInstanceOf(ServersUnavailableError);
  });

  it('re-lists on its period, so what a lost event changed is found', async () => {
    const runtime = new ListedServers();
    const c = make(runtime, 30);
    await c.list();
    runtime.put(server('b', 'two'));
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect((await c.list()).map((s) => s.id)).toEqual(['b']);
  });

  it('inspects running servers afresh, and a stopped one once until its listing or an event changes', async () => {
    const runtime = new ListedServers();
    runtime.put(server('run', 'one'));
    runtime.put(server('stopped', 'two', false));
    const c = make(runtime);
    await c.list();
    await c.inspect('run');
    await c.inspect('run');
    expect(runtime.inspects).toBe(2);
    await c.inspect('stopped');
    await c.inspect('stopped');
    expect(runtime.inspects).toBe(3);
    // An event about it (a start and stop in between, say) makes the next inspect ask again.
    runtime.emit({ id: 'stopped', role: 'Database', owner: 'two', action: 'start' });
    await c.list();
    await c.inspect('stopped');
    expect(runtime.inspects).toBe(4);
    // So does a listing that shows it changed.
    runtime.put({ ...server('stopped', 'two', false), exitCode: 137 });
    await c.refresh();
    expect((await c.inspect('stopped'))?.exitCode).toBe(137);
    expect(runtime.inspects).toBe(5);
  });
});
