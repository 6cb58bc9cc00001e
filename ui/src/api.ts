import type {
  ConnectionView as Connection,
  HeldView as Held,
  InfoView as Info,
  TrashItemView as TrashItem,
} from '../../controller/objects/api-views.js';
import type { DatabaseStatus } from '../../controller/objects/database.js';
import type { OWNER_ANNOTATION } from '../../controller/objects/meta.js';
import type { TemplateStatus } from '../../controller/objects/template.js';

/** The controller's HTTP API as the page uses it: the native /api/v1 routes, the token as a header. */

export type { Connection, Held, Info, TrashItem };

export type Role = 'viewer' | 'developer' | 'admin';
export interface Caller {
  name: string;
  role: Role;
}

interface ApiObject<Spec, Status> {
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: Spec;
  status?: Status;
  source?: { file: string; line: number };
}
export type Template = ApiObject<
  { engine: string; image?: string; source: { path?: string; database?: string }; database?: string },
  TemplateStatus
>;
export type Database = ApiObject<
  {
    /** Absent for a branch (`source`). */
    template?: string;
    source?: { database: string };
    ttl?: string;
    expiresAt?: string;
    state: 'Running' | 'Stopped';
    port?: number;
    protected?: boolean;
    idle?: { after?: string; action: 'Stop' | 'Delete' | 'Keep' };
  },
  DatabaseStatus
>;
export interface Problem {
  file: string;
  line?: number;
  key?: string;
  message: string;
  text: string;
}

export const OWNER: typeof OWNER_ANNOTATION = 'myaas.dev/owner';
/** Where the API keeps the specs it writes: only those can be changed from here. */
const MANAGED_DIR = 'api-managed';

export const isManaged = (object: { source?: { file: string } }) =>
  object.source?.file.startsWith(`${MANAGED_DIR}/`) ?? false;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

const TOKEN_KEY = 'myaas.token';

/** The token lives in this tab's session storage: gone when the tab closes, never in a cookie. */
export const session = {
  token: (): string | undefined => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (token: string) => sessionStorage.setItem(TOKEN_KEY, token),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function headers(token = session.token()): Record<string, string> {
  return { accept: 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) };
}

export async function call<T>(method: string, path: string, body?: unknown, token?: string): Promise<T> {
  const response = await fetch(path, {
    method,
    headers: {
      ...headers(token),
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  let data: unknown;
  try {
    data = text ? JSON.parse(text) : undefined;
  } catch {
    data = text;
  }
  if (!response.ok) {
    const message = (data as { status?: string } | undefined)?.status;
    throw new ApiError(response.status, message ?? `${response.status} ${response.statusText}`);
  }
  return data as T;
}

export const api = {
  info: () => call<Info>('GET', '/api/v1/info'),
  whoami: (token?: string) => call<Caller>('GET', '/api/v1/whoami', undefined, token),
  templates: () => call<{ items: Template[] }>('GET', '/api/v1/templates').then((r) => r.items),
  databases: () => call<{ items: Database[] }>('GET', '/api/v1/databases').then((r) => r.items),
  problems: () => call<{ items: Problem[] }>('GET', '/api/v1/problems').then((r) => r.items),
  held: () => call<Held>('GET', '/api/v1/deletions'),
  trash: () => call<{ items: TrashItem[] }>('GET', '/api/v1/trash').then((r) => r.items),
  connection: (name: string) =>
    call<Connection>('GET', `/api/v1/databases/${encodeURIComponent(name)}/connection`),
  create: (name: string, template: string, ttl: string) =>
    call<Database>('POST', '/api/v1/databases', {
      metadata: { name },
      spec: { template, ...(ttl ? { ttl } : {}) },
    }),
  /** Writes a database's spec back with `change` applied (what `myaas start/stop/extend` do). */
  async change(database: Database, change: (spec: Database['spec']) => Database['spec']) {
    const { status: _status, source: _source, ...body } = database;
    return call<Database>('PUT', `/api/v1/databases/${encodeURIComponent(database.metadata.name)}`, {
      ...body,
      spec: change({ ...database.spec }),
    });
  },
  reset: (name: string) => call('POST', `/api/v1/databases/${encodeURIComponent(name)}/reset`),
  /** Starts a stopped database: one stopped for idleness (wherever declared), or a Stopped API-managed one. */
  start: (name: string) => call('POST', `/api/v1/databases/${encodeURIComponent(name)}/start`),
  remove: (name: string) => call('DELETE', `/api/v1/databases/${encodeURIComponent(name)}`),
  restore: (id: string) =>
    call<{ phase?: string }>('POST', `/api/v1/trash/${encodeURIComponent(id)}/restore`),
  reimport: (name: string) => call('POST', `/api/v1/templates/${encodeURIComponent(name)}/reimport`),
  confirmDeletions: () => call<Held>('POST', '/api/v1/deletions/confirm'),
};

/**
 * Follows GET /api/v1/watch (server-sent events, read with fetch so the token goes in a header, which
 * EventSource cannot send): `onChange` gets the kinds that changed, or 'all' on every (re)connect.
 * Reconnects after a drop. Returns a function that stops it.
 */
export function watch(
  onChange: (kinds: string[] | 'all') => void,
  onConnected: (connected: boolean) => void,
): () => void {
  let stopped = false;
  let abort = new AbortController();
  const follow = async () => {
    while (!stopped) {
      abort = new AbortController();
      try {
        const response = await fetch('/api/v1/watch', { headers: headers(), signal: abort.signal });
        if (!response.ok || !response.body) throw new Error(`watch: ${response.status}`);
        onConnected(true);
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event === 'hello') onChange('all');
            if (event === 'change' && data) onChange((JSON.parse(data) as { kinds: string[] }).kinds);
          }
        }
      } catch {
        // Dropped, refused or aborted: said below, retried unless stopped.
      }
      if (stopped) return;
      onConnected(false);
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  };
  void follow();
  return () => {
    stopped = true;
    abort.abort();
  };
}
