import type { Condition } from './conditions.js';
import type { EngineName, ObjectMeta } from './meta.js';

/** Database: spec (what is asked), status (what users read), record (the controller's bookkeeping). */

export type DatabaseState = 'Running' | 'Stopped';

/** What happens to a database nobody uses: stopped (data kept), deleted (into the trash), or nothing. */
export const IDLE_ACTIONS = ['Stop', 'Delete', 'Keep'] as const;
export type IdleAction = (typeof IDLE_ACTIONS)[number];

/** After `afterSeconds` without a client session, `action` (Keep needs no `afterSeconds`). */
export interface IdlePolicy {
  readonly afterSeconds?: number;
  readonly action: IdleAction;
}

export interface DatabaseSpec {
  /** The template whose current version is cloned; absent for a branch (`source`). */
  readonly template?: string;
  /** A branch: the data comes from another database, copied at a consistent point while it runs. */
  readonly source?: { readonly database: string };
  readonly ttlSeconds?: number;
  /** Epoch milliseconds. */
  readonly expiresAt?: number;
  readonly state: DatabaseState;
  readonly port?: number;
  /** Memory limit of the server (containers), MiB; absent: the controller's default. */
  readonly memoryMiB?: number;
  readonly protected: boolean;
  /** What to do once no client has been connected for a while; absent: the template's default, else Keep. */
  readonly idle?: IdlePolicy;
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

/**
 * Where a branch's data came from: the source database at a point in time, the template version under
 * it, and what taking the copy cost the source (writes held; the server paused where the copy is not
 * an atomic snapshot).
 */
export interface BranchLineage {
  readonly database: string;
  /** When the branch point was taken (ISO 8601). */
  readonly at: string;
  readonly template: string;
  readonly templateVersion: string;
  /** How the branch point was copied: `snapshot` (atomic, btrfs) or `reflink`/`copy` under a pause. */
  readonly method: CloneMethod;
  /** How long the source's writes were held (MariaDB's FLUSH TABLES WITH READ LOCK), ms. */
  readonly lockMs: number;
  /** How long the source's server was paused while its files were copied, ms (0: not paused). */
  readonly pausedMs: number;
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
  /** Set for a branch: the database and point in time its data came from. */
  branchedFrom?: BranchLineage;
  /** Set when this incarnation came back from the trash. */
  restoredFrom?: { entry: string; at: string };
  /** When the running server was first seen ready. */
  readySince?: string;
  connection?: { host: string; port: number; user: string; database: string };
  /** The last moment a client session was seen (or the server became ready): ISO 8601. */
  lastActivity?: string;
  /** The idle watch's view, while it watches this database (a policy other than Keep). */
  idle?: IdleStatus;
  conditions: Condition[];
}

/** What the idle watch knows of one database: the policy in force and how long it has been idle. */
export interface IdleStatus {
  /** The policy in force, as specs write it (`30m`), and where it comes from. */
  after: string;
  action: IdleAction;
  from: 'Database' | 'Template';
  /**
   * Idle time counts from here: the last activity, moved forward by any time the controller did not
   * watch (it was down, or the database was not running), which never counts as idle.
   */
  countedFrom: string;
  /** When the watch last looked. */
  watchedAt: string;
}

export interface Credentials {
  readonly user: string;
  readonly password: string;
}

/** The controller's bookkeeping for one database: credentials and lifetime, never what exists. */
export interface DatabaseRecord {
  /** The template under the data (for a branch: its source's). */
  template: string;
  /** Set for a branch: where its branch point came from (a reset goes back to that point). */
  branch?: BranchLineage;
  /** Epoch ms of the clone's creation: ttl counts from here. */
  createdAt?: number;
  user: Credentials;
  /** This database's own admin password (replaces the template's at first start). */
  adminPassword: string;
  /** The cloned version's admin password, which the clone starts with (the version may be pruned since). */
  templateAdminPassword?: string;
  /** Kubernetes mode: the node whose agent holds the clone (the Pod is pinned there once it has one). */
  node?: string;
  /** Host port last served on: reused after a restart or a reset. */
  port?: number;
  templateVersion?: string;
  database?: string;
  image?: string;
  engine?: EngineName;
  /**
   * The warm pool member being claimed (the journal of a claim): saved before its clone moves to
   * databases/<name>; a restart rolls forward when the clone moved, else forgets the claim.
   */
  claim?: { template: string; member: string; server: string };
  /**
   * A claimed member's server, which serves this database until it is replaced (a restart makes a
   * server of its own): its role and labels still say Pool, so the database names it by id.
   */
  adoptedServer?: string;
  /** Credentials were set in the current clone. */
  configured: boolean;
  resetToken: string;
  protected: boolean;
  /** Set when the database expired: not recreated while the spec keeps this digest. */
  expired?: { at: number; digest: string };
  /** Who owns it (its owner annotation as last seen): quotas and access follow it into the trash. */
  owner?: string;
  /**
   * Set when the idle watch stopped the database: it stays stopped, whatever spec.state says, until a
   * start request (`myaas start`, `POST /api/v1/databases/NAME/start`), a spec saying Stopped, or a reset.
   */
  idleStopped?: { at: number; afterSeconds: number };
  /** Set when the idle watch found it idle under a Delete policy: removed like an expiry, through the guard. */
  idleDeleteDue?: { at: number; afterSeconds: number };
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

/** What a database's data comes from: a template, or (a branch) another database. */
export function sourceOf(spec: DatabaseSpec): { template: string } | { database: string } {
  return spec.source ? { database: spec.source.database } : { template: spec.template ?? '' };
}
