import type { Readable } from 'node:stream';
import type { Logger } from '../log.js';
import type { Credentials, EngineName } from '../objects/index.js';
import type { ExecResult, ExecSession } from './sessions.js';

export type { Credentials };

/**
 * `sql`: any text for the engine's SQL client; `tool-sql`: text written by the engine's own dump tool
 * (its layout is known, so it may be loaded more cleverly); `archive`: the engine's binary dump format.
 */
export type DumpFormat = 'sql' | 'tool-sql' | 'archive';

/**
 * A dump the engine's client loads straight from the file, with several connections (pg_restore
 * --jobs needs a seekable archive, not a pipe). Progress is counted in the dump's items.
 */
export interface ParallelLoad {
  /** Lists the items of the dump at `file` (run beside the server, like the client). */
  list(file: string): { argv: string[]; env: Record<string, string> };
  /** The id of the item a line of the listing names, if it is one progress counts (one that takes time). */
  listedItem(line: string): string | undefined;
  /** The client: reads `file` itself, with the jobs' connections; its stdin is unused. */
  load(
    file: string,
    endpoint: Endpoint,
    admin: Credentials,
    database: string,
  ): { argv: string[]; env: Record<string, string> };
  /**
   * The id of the item a line of the client's output says is done, if it says so. Only listed items
   * count toward progress (a client may report items its listing leaves out).
   */
  doneItem(line: string): string | undefined;
  /** The lines of the client's output that say what went wrong (its progress chatter left out). */
  problems(output: string): string;
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
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
  readonly args: readonly string[];
}

/**
 * Everything engine-specific, in one place: how a server is configured and initialised, how a dump
 * is fed to its client, how readiness and credentials are checked and set. Runtimes and reconcilers
 * speak only to this interface (MariadbEngine: mariadb and mysql; PostgresEngine: postgres).
 */
/** What a user needs to connect to a database: status's connection plus the password. */
export interface ConnectionInfo {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly database: string;
}

export interface Engine {
  readonly name: EngineName;
  /** Data directory and port inside the official image. */
  readonly containerDataDir: string;
  readonly containerPort: number;
  /** The account the controller administers servers with. */
  readonly adminUser: string;
  /** The signal that shuts the server down cleanly and promptly (containers and host processes). */
  readonly stopSignal: NodeJS.Signals;
  /**
   * Process runtime: the signal that ends a server at once, children included (postgres: SIGQUIT,
   * whose postmaster takes its backends down; a SIGKILL of the postmaster alone would orphan them).
   */
  readonly killSignal: NodeJS.Signals;
  /** Env every container of the engine gets (e.g. where the official image keeps its datadir). */
  serverEnv(): Record<string, string>;
  /** Whether a connection error means the credentials were refused (they will not start working). */
  isAccessDenied(error: unknown): boolean;
  /** Process runtime: the OS user host servers run as when the controller is root. */
  readonly hostUser: string;
  /** Whether a datadir already holds an initialised server (init only ever runs on an empty one). */
  isInitialized(dataDir: string): Promise<boolean>;
  /** The engine's interactive client, logged in (`myaas connect`); the password in env, not argv. */
  clientCommand(connection: ConnectionInfo): { command: string; args: string[]; env: Record<string, string> };
  /** A URL for the database, as drivers take it. */
  dsn(connection: ConnectionInfo): string;
  /** Official-image env that initialises an empty datadir with an admin password (and a schema). */
  initEnv(adminPassword: string, database?: string): Record<string, string>;
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
  /** Server options for an import: fast and unsafe, because a failed import is thrown away. */
  importServerArgs(memoryMiB: number, jobs: number): string[];
  /** What a dump is, from its first bytes (at least 4 KiB of them, or the whole dump if shorter). */
  dumpFormat(head: Buffer): DumpFormat;
  /**
   * How to load a dump of this format from its file with `jobs` connections; undefined when
   * streaming it to `importClient` is the way (or `jobs` is 1).
   */
  parallelLoad(format: DumpFormat, jobs: number): ParallelLoad | undefined;
  /** Server options for a database clone. */
  serveServerArgs(): string[];
  /**
   * The engine's own client reading a dump on stdin (argv and env; the password never in argv).
   * `format` is what `loadDump` found the dump to be (e.g. an archive needing another program).
   */
  importClient(
    endpoint: Endpoint,
    admin: Credentials,
    database: string,
    format?: DumpFormat,
  ): { argv: string[]; env: Record<string, string> };
  /**
   * Feeds a dump to clients opened with `open` (each one `importClient` beside the server), as
   * `client < dump.sql` would. `linesValid` is false when the client's "at line N" does not count
   * lines of the dump itself (the engine rearranged it, or it is not text).
   */
  loadDump(
    input: Readable,
    open: (format?: DumpFormat) => Promise<ExecSession>,
    log: Logger,
  ): Promise<{ result: ExecResult; linesValid: boolean }>;
  /** Resolves once a client can connect and run a query; rejects with the last error at the deadline. */
  waitReady(
    endpoint: Endpoint,
    admin: Credentials,
    deadline: number,
    isAlive?: () => Promise<boolean>,
  ): Promise<void>;
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
  /** Adjusts a fresh clone's files before its first start (e.g. MySQL's server_uuid). */
  prepareClone(dataDir: string): Promise<void>;
  /** Process runtime: checks the host has the server, its init tool and client; throws with the fix. */
  checkHost(): Promise<void>;
  /**
   * Process runtime: the program and arguments that serve a datadir on the host. `switchUser`: the
   * runtime starts it as `options.user` (a server that cannot drop privileges itself).
   */
  hostServer(options: HostServerOptions): { command: string; args: string[]; switchUser?: boolean };
  /** Process runtime: initialises an empty datadir as the official image's entrypoint would. */
  hostInitialize(options: HostServerOptions & { adminPassword: string; database?: string }): Promise<void>;
  /** The dump line an error happened at, from the client's message, when it says. */
  errorLine(clientOutput: string): number | undefined;
}
