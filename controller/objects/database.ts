import type { Condition } from './conditions.js';
import type { EngineName, ObjectMeta } from './meta.js';

/** Database: spec (what is asked), status (what users read), record (the controller's bookkeeping). */

export type DatabaseState = 'Running' | 'Stopped';

export interface DatabaseSpec {
  readonly template: string;
  readonly ttlSeconds?: number;
  /** Epoch milliseconds. */
  readonly expiresAt?: number;
  readonly state: DatabaseState;
  readonly port?: number;
  /** Memory limit of the server (containers), MiB; absent: the controller's default. */
  readonly memoryMiB?: number;
  readonly protected: boolean;
}

export interface DatabaseObject {
  readonly kind: 'Database';
  readonly metadata: ObjectMeta;
  readonly spec: DatabaseSpec;
}

export type DatabasePhase = 'Pending' | 'Cloning' | 'Starting' | 'Ready' | 'Stopped' | 'Expired' | 'Failed';

/** How the copy of the data was made: `snapshot` (btrfs), `reflink` (shared extents) or a full `copy`. */
export type CloneMethod = 'snapshot' | 'reflink' | 'copy';

/** The server as last seen, in neutral terms (the seed API words it as Docker would). */
export interface ServerState {
  running: boolean;
  /** When it started (running) or stopped (not running), when known: ISO 8601. */
  since?: string;
  exitCode?: number;
}

export interface DatabaseStatus {
  phase: DatabasePhase;
  message?: string;
  observedGeneration?: number;
  template?: string;
  createdAt?: string;
  expiresAt?: string;
  expiredAt?: string;
  templateVersion?: string;
  /** From the template (clients need it to pick their driver). */
  engine?: EngineName;
  cloneMethod?: CloneMethod;
  /** The server's state when last looked at. */
  server?: ServerState;
  /** The last reset acted on: its annotation value and when (a reset fires once per new value). */
  lastReset?: { token: string; at: string };
  /** Set when this incarnation came back from the trash. */
  restoredFrom?: { entry: string; at: string };
  /** When the running server was first seen ready. */
  readySince?: string;
  connection?: { host: string; port: number; user: string; database: string };
  conditions: Condition[];
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The controller's bookkeeping for one database: credentials and lifetime, never what exists. */
export interface DatabaseRecord {
  template: string;
  /** Epoch ms of the clone's creation: ttl counts from here. */
  createdAt?: number;
  user: Credentials;
  /** This database's own admin password (replaces the template's at first start). */
  adminPassword: string;
  /** The cloned version's admin password, which the clone starts with (the version may be pruned since). */
  templateAdminPassword?: string;
  /** Host port last served on: reused after a restart or a reset. */
  port?: number;
  templateVersion?: string;
  database?: string;
  image?: string;
  engine?: EngineName;
  /** Credentials were set in the current clone. */
  configured: boolean;
  resetToken: string;
  protected: boolean;
  /** Set when the database expired: not recreated while the spec keeps this digest. */
  expired?: { at: number; digest: string };
  /** Who owns it (its owner annotation as last seen): quotas and access follow it into the trash. */
  owner?: string;
  /** The spec as last seen, and its file: what a restore from the trash declares again. */
  lastSpec?: DatabaseSpec;
  specFile?: string;
}

/** When a database expires: `expiresAt` is absolute; `ttl` counts from the clone's creation. */
export function expiryOf(spec: DatabaseSpec, record: Pick<DatabaseRecord, 'createdAt'>): number | undefined {
  if (spec.expiresAt !== undefined) return spec.expiresAt;
  if (spec.ttlSeconds !== undefined && record.createdAt !== undefined)
    return record.createdAt + spec.ttlSeconds * 1000;
  return undefined;
}
