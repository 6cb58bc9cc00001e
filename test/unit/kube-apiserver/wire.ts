import type { KubeApiServer } from '../../support/kube-apiserver/index.js';

/** Plain HTTP against the in-process server: these tests pin the wire protocol, not a client's view of it. */

// The example CRDs and a server serving them: the same as the Kubernetes source tests start.
export { EXAMPLE_CRDS as CRDS, startExampleServer as startServer } from '../../support/kube-resources.js';
export const DATABASES = '/apis/myaas.dev/v1alpha1/namespaces/default/databases';
export const SECRETS = '/api/v1/namespaces/default/secrets';

/** Wire JSON as tests read it: any field, any depth (the assertions say what is expected). */
// biome-ignore lint/suspicious/noExplicitAny: bodies are read field by field and asserted on
export type Json = Record<string, any>;

export interface Answer<T = Json> {
  status: number;
  body: T;
}

export async function call<T = Json>(
  server: KubeApiServer,
  method: string,
  url: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<Answer<T>> {
  const res = await fetch(`${server.url}${url}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': contentType },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as T };
}

export const database = (name: string, spec: Json = { template: 'shop' }, metadata = {}) => ({
  apiVersion: 'myaas.dev/v1alpha1',
  kind: 'Database',
  metadata: { name, ...metadata },
  spec,
});

export interface WatchEvent {
  type: string;
  object: Json;
}

/** An open watch: its events as they come, and whether the server ended it. */
export class OpenWatch {
  readonly events: WatchEvent[] = [];
  ended = false;
  readonly #abort = new AbortController();
  readonly #waiters = new Set<() => void>();

  static async open(server: KubeApiServer, url: string): Promise<OpenWatch> {
    const watch = new OpenWatch();
    const res = await fetch(`${server.url}${url}`, { signal: watch.#abort.signal });
    if (res.status !== 200) throw new Error(`watch answered ${res.status}: ${await res.text()}`);
    void watch.#read(res.body!);
    return watch;
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of stream as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let newline = buffer.indexOf('\n');
        while (newline >= 0) {
          this.events.push(JSON.parse(buffer.slice(0, newline)) as WatchEvent);
          buffer = buffer.slice(newline + 1);
          newline = buffer.indexOf('\n');
        }
        this.#wake();
      }
    } catch {
      // aborted or dropped
    }
    this.ended = true;
    this.#wake();
  }

  #wake(): void {
    for (const wake of this.#waiters) wake();
  }

  /** Waits until the condition holds, at most 5 s. */
  async until(test: (w: OpenWatch) => boolean): Promise<void> {
    const deadline = Date.now() + 5000;
    while (!test(this)) {
      if (Date.now() > deadline)
        throw new Error(`watch: condition not met; events: ${JSON.stringify(this.summary())}`);
      await new Promise<void>((resolve) => {
        const wake = () => {
          this.#waiters.delete(wake);
          resolve();
        };
        this.#waiters.add(wake);
        setTimeout(wake, 50);
      });
    }
  }

  summary(): string[] {
    return this.events.map(
      (e) =>
        `${e.type} ${e.object.metadata?.name ?? ''}@${e.object.metadata?.resourceVersion ?? e.object.code ?? ''}`,
    );
  }

  close(): void {
    this.#abort.abort();
  }
}

/** Lets the server's background work (garbage collector, scheduler) run. */
export async function settle(check: () => Promise<boolean>, ms = 2000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
