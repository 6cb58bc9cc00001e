import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { Credentials, EngineName, SchemaSnapshot } from '../objects/index.js';
import type { ExecResult, ExecSession } from './sessions.js';

export type { Credentials };

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** What a user needs to connect to a database: status's connection plus the password. */
export interface ConnectionInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

/**
 * One database engine, in the parts its callers need: runtimes use `image` (containers and host
 * processes alike) and `host` (the process runtime only), the importer `loader`, reconcilers and
 * the importer `admin`, the CLI `client`. Implementations: engine/mariadb/ (mariadb and mysql) and
 * engine/postgres/; `engineFor` in engines.ts picks one.
 */
export interface Engine {
  readonly name: EngineName;
  readonly image: ServerImage;
  readonly host: HostServer;
  readonly loader: DumpLoader;
  readonly admin: ServerAdmin;
  readonly client: ClientAccess;
}

/** The official image's contract: where the data is, which port, how it stops, how it initialises. */
export interface ServerImage {
  /** Data directory and port inside the official image. */
  readonly dataDir: string;
  readonly port: number;
  /** The signal that shuts the server down cleanly and promptly (containers and host processes). */
  readonly stopSignal: NodeJS.Signals;
  /** Env every container of the engine gets (e.g. where the official image keeps its datadir). */
  env(): Record<string, string>;
  /** Env that initialises an empty datadir with an admin password (and a schema). */
  initEnv(adminPassword: string, database?: string): Record<string, string>;
  /** Server options for a database clone. */
  serveArgs(): string[];
}

/** Where a host process (the process runtime) keeps a server's files, and how it runs. */
export interface HostServerOptions {
  readonly dataDir: string;
  readonly port: number;
  readonly socket: string;
  readonly pidFile: string;
  readonly errorLog: string;
  /** OS user the server runs as when the controller is root. */
  readonly user?: string;
  /** Host address the server listens on (0.0.0.0: all). */
  readonly bindAddress: string;
  readonly args: readonly string[];
}

/** The process runtime's part: serving a datadir with the host's own server programs. */
export interface HostServer {
  /** The OS user host servers run as when the controller is root. */
  readonly user: string;
  /**
   * The signal that ends a server at once, children included (postgres: SIGQUIT, whose postmaster
   * takes its backends down; a SIGKILL of the postmaster alone would orphan them).
   */
  readonly killSignal: NodeJS.Signals;
  /** Checks the host has the server, its init tool and client; throws with the fix. */
  check(): Promise<void>;
  /** Whether a datadir already holds an initialised server (init only ever runs on an empty one). */
  isInitialized(dataDir: string): Promise<boolean>;
  /**
   * The program and arguments that serve a datadir. `switchUser`: the runtime starts it as
   * `options.user` (a server that cannot drop privileges itself).
   */
  command(options: HostServerOptions): { command: string; args: string[]; switchUser?: boolean };
  /** Initialises an empty datadir as the official image's entrypoint would. */
  initialize(options: HostServerOptions & { adminPassword: string; database?: string }): Promise<void>;
}

/**
 * `sql`: any text for the engine's SQL client; `tool-sql`: text written by the engine's own dump tool
 * (its layout is known, so it may be loaded more cleverly); `archive`: the engine's binary dump format.
 */
export type DumpFormat = 'sql' | 'tool-sql' | 'archive';

/**
 * Where the engine's clients run: on the controller's host (the process runtime), where a dump's
 * shell escape would run on the host itself, or in the server's container (docker), which contains it.
 */
export type ClientPlace = 'host' | 'container';

/** A program to run beside a server: argv and env (passwords in env, never in argv). */
export interface ClientInvocation {
  readonly argv: string[];
  readonly env: Record<string, string>;
}

/** Loading a dump into an import server: the server's settings, the dump's format, the client. */
/** How a load may go about it, from the controller's configuration. */
export interface LoadTuning {
  /** A table's rows past this many bytes load through the engine's bulk path (-1: never). */
  readonly loadDataAfterBytes?: number;
}

export interface DumpLoader {
  /** Server options for an import: fast and unsafe, because a failed import is thrown away. */
  serverArgs(memoryMiB: number, jobs: number): string[];
  /** What a dump is, from its first bytes (at least 4 KiB of them, or the whole dump if shorter). */
  format(head: Buffer): DumpFormat;
  /**
   * How to load a dump of this format from its file with `jobs` connections; undefined when
   * streaming it to `client` is the way (or `jobs` is 1).
   */
  parallel(format: DumpFormat, jobs: number): ParallelLoad | undefined;
  /**
   * The engine's own client reading a dump on stdin; `format` picks it (an archive needs another
   * program). It runs with its commands that run programs or use files turned off, as far as the
   * client allows (required where it runs on the host).
   */
  client(
    endpoint: Endpoint,
    admin: Credentials,
    database: string,
    format: DumpFormat,
    place: ClientPlace,
    /**
     * `schemaOnly`: the client restores no rows (text dumps come already filtered; archives need it).
     * `execute`: the client runs this SQL (the loader's own, never the dump's) and may read
     * `LOAD DATA LOCAL INFILE '/dev/stdin'` from its stdin.
     */
    options?: { schemaOnly?: boolean; execute?: string },
  ): ClientInvocation;
  /**
   * Feeds a dump to clients opened with `open` (each one `client` beside the server), as
   * `client < dump.sql` would. `linesValid` is false when the client's "at line N" does not count
   * lines of the dump itself (the loader rearranged it, or it is not text). Rejects with
   * UnsafeDumpError when the dump would run a command where the client runs.
   */
  load(
    input: Readable,
    open: (format?: DumpFormat, options?: { execute?: string }) => Promise<ExecSession>,
    log: Logger,
    place: ClientPlace,
    tuning?: LoadTuning,
  ): Promise<{ result: ExecResult; linesValid: boolean }>;
  /** The dump line an error happened at, from the client's message, when it says. */
  errorLine(clientOutput: string): number | undefined;
}

/**
 * A dump the engine's client loads straight from the file, with several connections (pg_restore
 * --jobs needs a seekable archive, not a pipe). Progress is counted in the dump's items.
 */
export interface ParallelLoad {
  /** Lists the items of the dump at `file` (run beside the server, like the client). */
  list(file: string): ClientInvocation;
  /** The id of the item a line of the listing names, if it is one progress counts (one that takes time). */
  listedItem(line: string): string | undefined;
  /** The client: reads `file` itself, with the jobs' connections; its stdin is unused. */
  load(file: string, endpoint: Endpoint, admin: Credentials, database: string): ClientInvocation;
  /**
   * The id of the item a line of the client's output says is done, if it says so. Only listed items
   * count toward progress (a client may report items its listing leaves out).
   */
  doneItem(line: string): string | undefined;
  /** The lines of the client's output that say what went wrong (its progress chatter left out). */
  problems(output: string): string;
}

/** Administering a running server over SQL: readiness, the admin and user accounts, clones, schemas. */
export interface ServerAdmin {
  /** The account the controller administers servers with. */
  readonly user: string;
  /** Whether a connection error means the credentials were refused (they will not start working). */
  isAccessDenied(error: unknown): boolean;
  /** Resolves once a client can connect and run a query; rejects with the last error at the deadline. */
  waitReady(
    endpoint: Endpoint,
    admin: Credentials,
    deadline: number,
    isAlive?: () => Promise<boolean>,
  ): Promise<void>;
  /**
   * An import server started on a copy of a cached, initialised datadir: gives it the template's own
   * admin password and creates the schema the dump goes into.
   */
  adoptImportServer(
    endpoint: Endpoint,
    current: Credentials,
    admin: Credentials,
    database: string,
  ): Promise<void>;
  /**
   * Runs `copy` (which copies the running server's datadir) at a moment the engine makes consistent,
   * and says how long writes were held: MariaDB holds FLUSH TABLES WITH READ LOCK around it (tables
   * of every engine flushed, commits blocked; InnoDB recovers the rest from its redo log), PostgreSQL
   * checkpoints first so the copy's crash recovery is short (it needs no lock: WAL makes any atomic
   * copy consistent).
   */
  atConsistentPoint<T>(
    endpoint: Endpoint,
    admin: Credentials,
    copy: () => Promise<T>,
  ): Promise<{ result: T; lockMs: number }>;
  /** Adjusts a fresh clone's files before its first start (e.g. MySQL's server_uuid). */
  prepareClone(dataDir: string): Promise<void>;
  /**
   * First start of a clone: gives it its own admin password (replacing the template's) and its own
   * user account. Idempotent: safe to run again after a crash half-way.
   */
  configureClone(
    endpoint: Endpoint,
    admins: Credentials[],
    newAdmin: Credentials,
    user: Credentials,
  ): Promise<void>;
  /**
   * The schema of `database` (MariaDB: that schema; PostgreSQL: that database's non-system schemas),
   * sorted and normalised so that an unchanged server reads the same JSON every time: what an import
   * records and `myaas diff` compares with.
   */
  readSchema(endpoint: Endpoint, admin: Credentials, database: string): Promise<SchemaSnapshot>;
  /**
   * How many client sessions the server has now, idle ones included (an open connection is use):
   * the engine's own background threads and the sessions of `admin`'s account (the controller's
   * own) are not counted. What the idle watch decides by.
   */
  clientSessions(endpoint: Endpoint, admin: Credentials): Promise<number>;
}

/** What a user's tools need (`myaas connect`). */
export interface ClientAccess {
  /** The engine's interactive client, logged in; the password in env, not argv. */
  command(connection: ConnectionInfo): { command: string; args: string[]; env: Record<string, string> };
  /** A URL for the database, as drivers take it. */
  dsn(connection: ConnectionInfo): string;
}
