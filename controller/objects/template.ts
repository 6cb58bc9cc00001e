import type { Condition } from './conditions.js';
import type { BranchLineage, IdlePolicy } from './database.js';
import type { EngineName, ObjectMeta } from './meta.js';

/** Template: spec (what is asked), status (what users read), record (the controller's bookkeeping). */

export interface TemplateSpec {
  readonly engine: EngineName;
  /** Absent means the controller's default image for the engine. */
  readonly image?: string;
  /** A dump in the dumps dir, or (a snapshot template) a database whose data each import copies. */
  readonly source: TemplateSource;
  /** Absent means the controller's default schema name. */
  readonly database?: string;
  readonly import: {
    readonly timeoutSeconds?: number;
    /** SQL run after the load, before the version is sealed (masking, subsetting). */
    readonly steps?: readonly ImportStep[];
    /** Load the schema only: the dump's rows are skipped as it streams past. */
    readonly schemaOnly?: boolean;
  };
  /** Defaults for the databases cloned from this template, where their own spec says nothing. */
  readonly databaseDefaults?: { readonly idle?: IdlePolicy };
  /** Warm pool: ready members kept per current version (absent or 0: none). */
  readonly pool?: { readonly size: number };
  /** Kubernetes mode: the Node labels an agent's node must carry to import it (absent: every node). */
  readonly nodeSelector?: Readonly<Record<string, string>>;
}

export type TemplateSource = { readonly path: string } | { readonly database: string };

/** The dump a template imports, when its source is a dump (not a database). */
export function dumpPathOf(spec: Pick<TemplateSpec, 'source'>): string | undefined {
  return 'path' in spec.source ? spec.source.path : undefined;
}

/** The database a snapshot template copies, when its source is one. */
export function sourceDatabaseOf(spec: Pick<TemplateSpec, 'source'>): string | undefined {
  return 'database' in spec.source ? spec.source.database : undefined;
}

/** One post-import step: a script in the dumps dir, or inline SQL. */
export type ImportStep = { readonly path: string } | { readonly sql: string };

export interface TemplateObject {
  readonly kind: 'Template';
  readonly metadata: ObjectMeta;
  readonly spec: TemplateSpec;
}

export type TemplatePhase = 'Pending' | 'Importing' | 'Ready' | 'Failed';

export interface ImportProgress {
  readonly bytesRead: number;
  readonly bytesTotal: number;
  readonly bytesPerSecond: number;
  readonly etaSeconds: number;
  /**
   * Set when the dump is loaded item by item from its file (in parallel): items done of all, and the
   * bytes above are estimated from them.
   */
  readonly itemsDone?: number;
  readonly itemsTotal?: number;
}

/** What decides whether a template must be imported again. */
export interface ImportTrigger {
  /** Digest of the import-relevant spec fields (engine, image, source, database). */
  readonly specDigest: string;
  /** `size:mtimeMs` of the dump when the import started. */
  readonly dump: string;
  /** Value of the reimport annotation. */
  readonly reimportToken: string;
}

/** Where an import's time went: server start (with datadir init), loading the dump, clean shutdown + snapshot. */
export interface ImportPhases {
  readonly startSeconds: number;
  readonly loadSeconds: number;
  readonly finishSeconds: number;
}

/** Written beside a version once it is complete: a version without it does not exist. */
export interface VersionMeta {
  readonly version: string;
  readonly createdAt: number;
  readonly engine: EngineName;
  readonly image: string;
  readonly database: string;
  /** The template's admin password: clones start with it and replace it at once. */
  readonly adminPassword: string;
  readonly trigger: ImportTrigger;
  readonly dumpSha256: string;
  readonly dumpBytes: number;
  readonly durationSeconds: number;
  /** Set for a snapshot template's version: the database it was copied from, and when. */
  readonly fromDatabase?: BranchLineage;
  /** Connections the dump was loaded with: 1 when streamed to one client, more when read in parallel. */
  readonly loadJobs?: number;
  readonly phases?: ImportPhases;
}

export interface TemplateStatus {
  phase: TemplatePhase;
  message?: string;
  observedGeneration?: number;
  /** When the template was first seen (kept across reimports): what its AGE counts from. */
  createdAt?: string;
  currentVersion?: string;
  /** The warm pool: members ready of the current version, and how many are asked for. */
  pool?: { ready: number; target: number };
  /** The current version: when it was made, from how large a dump, in how long (what the UI shows of it). */
  currentVersionInfo?: { createdAt: string; dumpBytes: number; importSeconds: number };
  versions: string[];
  progress?: ImportProgress;
  lastImport?: {
    version: string;
    phases?: ImportPhases;
    startedAt: string;
    finishedAt?: string;
    durationSeconds?: number;
    bytes?: number;
    /** Connections the dump was loaded with (1: streamed to one client). */
    jobs?: number;
    result?: 'Succeeded' | 'Failed';
    error?: string;
    /** The line the error is at: of the dump, or of `errorFile` (a post-import script) when set. */
    errorLine?: number;
    errorFile?: string;
  };
  conditions: Condition[];
}

export interface TemplateRecord {
  /** The spec as last seen: what a restore from the trash compares the returning spec with. */
  lastSpec?: TemplateSpec;
  /** The last import started: what triggered it, when, and how it ended. */
  lastAttempt?: {
    trigger: ImportTrigger;
    startedAt: number;
    finishedAt?: number;
    failed?: boolean;
    /** Failed attempts in a row for the same trigger. */
    failures: number;
  };
}
