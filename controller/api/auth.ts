import { createHash, timingSafeEqual } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { parse } from 'yaml';
import { parseDuration } from '../spec/duration.js';
import { isValidName } from '../spec/names.js';

export const ROLES = ['viewer', 'developer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** Limits on what a caller may create; absent fields mean no limit (or the controller's default). */
export interface Quota {
  /** Databases this user may own at once. */
  readonly maxDatabases?: number;
  /** Longest ttl (seconds) a database may be given; no ttl at all is then refused too. */
  readonly maxTtlSeconds?: number;
  /** ttl (seconds) of a database created without one. */
  readonly defaultTtlSeconds?: number;
  /** Memory limit (MiB) of each database this user creates: its default and its maximum. */
  readonly memoryMiB?: number;
}

/** Who is calling: from a token in the users file, the single MYAAS_API_TOKEN, or the local user. */
export interface Caller {
  readonly name: string;
  readonly role: Role;
  readonly quota: Quota;
}

/** The one user of a controller without users on loopback: today's single-user behaviour. */
export const LOCAL_ADMIN: Caller = { name: 'local', role: 'admin', quota: {} };

interface UserEntry extends Caller {
  /** sha256 of the token, hex. */
  readonly tokenSha256: string;
}

/** Hex sha256 of a token: what the users file keeps (tokens are long random strings: no salt needed). */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A problem in the users file, naming the file, the field and the fix. */
export class UsersFileError extends Error {}

/**
 * The users file (`--users`, YAML, owned by the operator): each user a name, a role and the sha256 of
 * their token, with optional quotas per role and per user. Read at start and again whenever the file
 * changes; a file that stops parsing keeps the last good users (and says so), like a spec file.
 *
 *   roles:
 *     developer: { maxDatabases: 5, maxTtl: 7d, defaultTtl: 8h }
 *   users:
 *     - name: alice
 *       role: developer
 *       tokenSha256: 3b4c...      # `myaas hash-token` prints it
 *       quota: { maxDatabases: 10 }
 */
export class Users {
  readonly #file: string | undefined;
  readonly #apiToken: Buffer | undefined;
  #users: UserEntry[] = [];
  #signature = '';
  #problem: string | undefined;

  constructor(file: string | undefined, apiToken?: string) {
    this.#file = file;
    this.#apiToken = apiToken ? Buffer.from(apiToken) : undefined;
  }

  /** Whether any credential is configured: without one, only loopback is served, as the local admin. */
  get configured(): boolean {
    return Boolean(this.#file) || Boolean(this.#apiToken);
  }

  /** Why the users file is not in use right now (its last good users are), if it is not. */
  get problem(): string | undefined {
    return this.#problem;
  }

  /** Reads the file when it changed since the last look; the first load throws on any problem. */
  async load(first = false): Promise<void> {
    if (!this.#file) return;
    let text: string;
    let signature: string;
    try {
      const s = await stat(this.#file);
      signature = `${s.ino}:${s.size}:${s.mtimeMs}`;
      if (signature === this.#signature) return;
      text = await readFile(this.#file, 'utf8');
    } catch (error) {
      const message = `users file ${this.#file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): fix it or its path (--users)`;
      if (first) throw new UsersFileError(message);
      this.#problem = `${message}; the last good users stay in use`;
      return;
    }
    try {
      this.#users = parseUsers(text, this.#file);
      this.#signature = signature;
      this.#problem = undefined;
    } catch (error) {
      if (first) throw error;
      this.#signature = signature;
      this.#problem = `${(error as Error).message}; the last good users stay in use`;
    }
  }

  /** The caller a request's credentials name: a bearer token, or HTTP basic auth with the token as password. */
  async authenticate(req: IncomingMessage): Promise<Caller | undefined> {
    await this.load();
    const token = tokenOf(req);
    if (token === undefined) return undefined;
    const given = Buffer.from(token);
    if (this.#apiToken && given.length === this.#apiToken.length && timingSafeEqual(given, this.#apiToken)) {
      return { name: 'admin', role: 'admin', quota: {} };
    }
    const digest = Buffer.from(hashToken(token), 'hex');
    for (const user of this.#users) {
      const known = Buffer.from(user.tokenSha256, 'hex');
      if (known.length === digest.length && timingSafeEqual(known, digest)) {
        const { tokenSha256: _secret, ...caller } = user;
        return caller;
      }
    }
    return undefined;
  }
}

/** The token of a request: `Authorization: Bearer <token>`, or basic auth's password (`curl -u name:token`). */
function tokenOf(req: IncomingMessage): string | undefined {
  const header = req.headers.authorization ?? '';
  if (/^Bearer /i.test(header)) return header.slice(7).trim() || undefined;
  if (/^Basic /i.test(header)) {
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const password = colon >= 0 ? decoded.slice(colon + 1) : decoded;
    return password || undefined;
  }
  return undefined;
}

function parseUsers(text: string, file: string): UserEntry[] {
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (error) {
    throw new UsersFileError(`${file}: not YAML (${(error as Error).message.split('\n')[0]})`);
  }
  if (!doc || typeof doc !== 'object') throw new UsersFileError(`${file}: expected a mapping with users:`);
  const { users, roles } = doc as { users?: unknown; roles?: unknown };
  const roleQuotas = new Map<string, Quota>();
  if (roles !== undefined) {
    if (!roles || typeof roles !== 'object')
      throw new UsersFileError(`${file}: roles: expected a mapping of role to quota`);
    for (const [role, quota] of Object.entries(roles)) {
      if (!ROLES.includes(role as Role))
        throw new UsersFileError(`${file}: roles.${role}: not a role (${ROLES.join(', ')})`);
      roleQuotas.set(role, quotaOf(quota, `${file}: roles.${role}`));
    }
  }
  if (!Array.isArray(users))
    throw new UsersFileError(`${file}: users: expected a list of {name, role, tokenSha256}`);
  const names = new Set<string>();
  return users.map((entry: unknown, i) => {
    const where = `${file}: users[${i}]`;
    if (!entry || typeof entry !== 'object')
      throw new UsersFileError(`${where}: expected {name, role, tokenSha256}`);
    const { name, role, tokenSha256, quota } = entry as Record<string, unknown>;
    if (typeof name !== 'string' || !isValidName(name))
      throw new UsersFileError(
        `${where}.name: ${JSON.stringify(name)} is not a name (lower-case letters, digits, -)`,
      );
    if (names.has(name)) throw new UsersFileError(`${where}.name: ${name} is listed twice`);
    names.add(name);
    if (!ROLES.includes(role as Role))
      throw new UsersFileError(`${where}.role: ${JSON.stringify(role)} is not one of ${ROLES.join(', ')}`);
    if (typeof tokenSha256 !== 'string' || !/^[0-9a-f]{64}$/.test(tokenSha256))
      throw new UsersFileError(
        `${where}.tokenSha256: expected 64 hex digits: run \`myaas hash-token\` and paste what it prints`,
      );
    return {
      name,
      role: role as Role,
      tokenSha256,
      quota: { ...(roleQuotas.get(role as string) ?? {}), ...quotaOf(quota, `${where}.quota`) },
    };
  });
}

function quotaOf(value: unknown, where: string): Quota {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object')
    throw new UsersFileError(`${where}: expected {maxDatabases, maxTtl, defaultTtl, memory}`);
  const out: {
    maxDatabases?: number;
    maxTtlSeconds?: number;
    defaultTtlSeconds?: number;
    memoryMiB?: number;
  } = {};
  for (const [key, raw] of Object.entries(value)) {
    if (key === 'maxDatabases') {
      if (!Number.isInteger(raw) || (raw as number) < 0)
        throw new UsersFileError(`${where}.maxDatabases: expected a whole number`);
      out.maxDatabases = raw as number;
    } else if (key === 'memory') {
      if (!Number.isInteger(raw) || (raw as number) < 64)
        throw new UsersFileError(`${where}.memory: expected MiB as a whole number of at least 64, e.g. 512`);
      out.memoryMiB = raw as number;
    } else if (key === 'maxTtl' || key === 'defaultTtl') {
      const seconds = parseDuration(raw);
      if (seconds === undefined)
        throw new UsersFileError(
          `${where}.${key}: ${JSON.stringify(raw)} is not a duration (30s, 15m, 8h, 7d)`,
        );
      if (key === 'maxTtl') out.maxTtlSeconds = seconds;
      else out.defaultTtlSeconds = seconds;
    } else {
      throw new UsersFileError(`${where}.${key}: unknown field (maxDatabases, maxTtl, defaultTtl, memory)`);
    }
  }
  return out;
}
