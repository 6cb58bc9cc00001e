import { setTimeout as sleep } from 'node:timers/promises';
import type { ApiObject } from '../../api/objects.js';
import { MANAGED_DIR } from '../../api/spec-writer.js';
import { type ApiClient, CliError } from '../api-client.js';

/** Where a command writes its result, one block at a time. */
export type Out = (text: string) => void;

/** What every client command is given: an API client per call (from the environment) and its output. */
export interface CommandContext {
  readonly client: () => ApiClient;
  readonly out: Out;
}

const KINDS: Record<string, 'templates' | 'databases'> = {
  template: 'templates',
  templates: 'templates',
  tpl: 'templates',
  database: 'databases',
  databases: 'databases',
  db: 'databases',
};

/** The API's collection for a kind as users type it (`db`, `template`, `Databases`...). */
export function plural(kind: string): 'templates' | 'databases' {
  const p = KINDS[kind.toLowerCase()];
  if (!p) throw new CliError(`unknown kind "${kind}": use templates or databases`);
  return p;
}

/** Whether an object was made through the API or CLI (and so may be changed through them). */
export function isManaged(object: ApiObject): boolean {
  return object.source?.file?.startsWith(`${MANAGED_DIR}/`) ?? false;
}

/** The object as it is written back: what the API returned, less what the controller adds (status, source). */
export function writable(object: ApiObject): Record<string, unknown> {
  const { status: _status, source: _source, ...rest } = object;
  return rest;
}

/** A database's phase, `Pending` until it has a status. */
export function phaseOf(object: ApiObject): string {
  return (object.status as { phase?: string } | undefined)?.phase ?? 'Pending';
}

/** GET one database. */
export function getDatabase(client: ApiClient, name: string): Promise<ApiObject> {
  return client.call<ApiObject>('GET', `/api/v1/databases/${encodeURIComponent(name)}`);
}

/**
 * Polls a database (every half second) until `done` says it is there, or its phase is Failed (an error
 * with its message), or the timeout passes (an error saying what it is doing).
 */
export async function waitForDatabase(
  client: ApiClient,
  name: string,
  done: (phase: string, object: ApiObject) => boolean,
  what: string,
  timeoutMs: number,
): Promise<ApiObject> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const object = await getDatabase(client, name);
    const phase = phaseOf(object);
    if (done(phase, object)) return object;
    const message = (object.status as { message?: string } | undefined)?.message;
    if (phase === 'Failed')
      throw new CliError(`database ${name} failed: ${message ?? 'see myaas describe database'}`);
    if (Date.now() > deadline)
      throw new CliError(
        `database ${name} is not ${what} after ${Math.round(timeoutMs / 1000)} s (${phase}${message ? `: ${message}` : ''})`,
      );
    await sleep(500);
  }
}
