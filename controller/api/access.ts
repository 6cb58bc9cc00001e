import type { IncomingMessage } from 'node:http';
import { OWNER_ANNOTATION } from '../objects/index.js';
import type { Caller, Quota } from './auth.js';
import { HttpError } from './http.js';

/** Loopback names: where a controller without users may listen, and what its Host header must say. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

/**
 * Browsers: a request that changes state must not come from another site. A page on another origin
 * posting a form (or fetching) to the API carries an Origin (and Sec-Fetch-Site) that says so; curl and
 * the CLI send neither. Without users (the local single-user mode), the Host must be a loopback name
 * too, so a DNS-rebinding page cannot pose as same-origin.
 */
export function refuseCrossSite(req: IncomingMessage, localMode: boolean): void {
  const host = req.headers.host ?? '';
  const hostname = host.replace(/:\d+$/, '');
  if (localMode && hostname && !isLoopbackHost(hostname)) {
    throw new HttpError(403, {
      status: `Forbidden: this controller has no users and answers only to loopback names, not "${hostname}" (add users to serve other hosts)`,
    });
  }
  if (req.method === 'GET' || req.method === 'HEAD') return;
  const site = req.headers['sec-fetch-site'];
  const origin = req.headers.origin;
  const crossOrigin =
    origin !== undefined && origin !== 'null' ? safeHost(origin) !== host : origin === 'null';
  if (site === 'cross-site' || site === 'same-site' || crossOrigin) {
    throw new HttpError(403, {
      status: 'Forbidden: cross-site request refused (a page on another origin may not change databases)',
    });
  }
}

function safeHost(origin: string): string | undefined {
  try {
    return new URL(origin).host;
  } catch {
    return undefined;
  }
}

/** Who may do what: viewers read, developers make and manage their own databases, admins everything. */
export const access = {
  /** Changes to templates, confirming mass removals: admins only. */
  requireAdmin(caller: Caller, what: string): void {
    if (caller.role !== 'admin') throw forbidden(caller, what);
  },

  /** Creating a database: developers and admins. */
  requireCreate(caller: Caller): void {
    if (caller.role === 'viewer') throw forbidden(caller, 'create databases');
  },

  /** Seeing a database's secrets, changing or deleting it: its owner, or an admin. */
  requireOwn(caller: Caller, owner: string | undefined, name: string, what = 'manage'): void {
    if (caller.role === 'admin') return;
    if (caller.role === 'developer' && owner === caller.name) return;
    throw forbidden(caller, `${what} database "${name}" (it belongs to ${owner ?? 'the operator'})`);
  },

  /** Whether the caller sees this database at all in lists (developers: their own). */
  sees(caller: Caller, owner: string | undefined): boolean {
    return caller.role !== 'developer' || owner === caller.name;
  },

  /** Whether the caller may read this database's password. */
  seesSecrets(caller: Caller, owner: string | undefined): boolean {
    return caller.role === 'admin' || (caller.role === 'developer' && owner === caller.name);
  },
};

/** A database's owner, from its spec's metadata. */
export function ownerOf(object: { metadata: { annotations: Readonly<Record<string, string>> } }):
  | string
  | undefined {
  return object.metadata.annotations[OWNER_ANNOTATION];
}

/**
 * The ttl a new database gets, checked against the caller's quota: the default when none is given,
 * 403 past the maximum, 429 when the caller already owns as many databases as allowed.
 */
export function applyQuota(
  caller: Caller,
  owned: number,
  ttlSeconds: number | undefined,
): number | undefined {
  const quota: Quota = caller.quota;
  if (quota.maxDatabases !== undefined && owned >= quota.maxDatabases) {
    throw new HttpError(429, {
      status: `Quota: ${caller.name} may own ${quota.maxDatabases} database(s) and owns ${owned}: delete one first (myaas delete database NAME)`,
    });
  }
  const ttl = ttlSeconds ?? quota.defaultTtlSeconds;
  if (quota.maxTtlSeconds !== undefined && (ttl === undefined || ttl > quota.maxTtlSeconds)) {
    throw new HttpError(403, {
      status: `Quota: a ttl of ${ttl === undefined ? 'none (no expiry)' : `${ttl}s`} is over ${caller.name}'s maximum of ${quota.maxTtlSeconds}s: ask for less`,
    });
  }
  return ttl;
}

/**
 * The memory limit (MiB) a database of this caller gets: what it asks for, within its quota's limit,
 * or that limit when it asks for none (undefined: the controller's default). 403 above the limit.
 */
export function memoryQuota(caller: Caller, asked: number | undefined): number | undefined {
  const limit = caller.quota.memoryMiB;
  if (limit === undefined) return asked;
  if (asked !== undefined && asked > limit) {
    throw new HttpError(403, {
      status: `Quota: a memory limit of ${asked} MiB is over ${caller.name}'s maximum of ${limit} MiB per database: ask for less`,
    });
  }
  return asked ?? limit;
}

function forbidden(caller: Caller, what: string): HttpError {
  return new HttpError(403, { status: `Forbidden: ${caller.name} (${caller.role}) may not ${what}` });
}
