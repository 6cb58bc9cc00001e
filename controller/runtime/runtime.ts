import type { ClientPlace, Endpoint, Engine } from '../engine/engine.js';
import type { ExecResult, ExecSession } from '../engine/sessions.js';

export type { ExecResult, ExecSession };

/** Labels every server this controller makes carries; discovery and cleanup go by them, never by name. */
export const LABELS = {
  controller: 'myaas.dev/controller',
  kind: 'myaas.dev/kind',
  name: 'myaas.dev/name',
  template: 'myaas.dev/template',
  version: 'myaas.dev/template-version',
  /** The port the server listens on inside its container (the engine's). */
  port: 'myaas.dev/port',
} as const;

/**
 * Database: serves a Database (owner: its name). Import: a template's import (owner: the template).
 * Pool: a warm pool member (owner: `<template>.<member id>`), until a Database claims it: the claiming
 * database's record then names the server (labels cannot change on a running container).
 */
export type ServerRole = 'Database' | 'Import' | 'Pool';

/** What a server of `role` is called by its runtime (container name part, run dir prefix). */
export function roleTag(role: ServerRole): string {
  return role === 'Database' ? 'db' : role === 'Import' ? 'import' : 'pool';
}

/** Whether `server` serves database `name`: its own, or the pool member it claimed (`adopted`: its id). */
export function servesDatabase(server: ServerInfo, name: string, adopted?: string): boolean {
  return (
    (server.role === 'Database' && server.owner === name) || (adopted !== undefined && server.id === adopted)
  );
}

/** The newest running server of database `name`, as its runtime finds it now. */
export async function runningDatabaseServer(
  runtime: Runtime,
  name: string,
  adopted?: string,
): Promise<ServerInfo | undefined> {
  return (await runtime.servers.list())
    .filter((s) => servesDatabase(s, name, adopted) && s.running)
    .sort((a, b) => b.createdAt - a.createdAt)[0];
}

/** A database server to start: which data, which image, which options. */
export interface ServerSpec {
  readonly role: ServerRole;
  /** Owner name: the Database's name, or `<template>` for an import. */
  readonly owner: string;
  readonly template: string;
  readonly templateVersion: string;
  readonly image: string;
  /** Host path of the datadir (a clone or a work volume). */
  readonly dataDir: string;
  /** Fixed host port; absent means any free port. */
  readonly hostPort?: number;
  readonly engine: Engine;
  /** Initialise an empty datadir with this admin password (and schema, when given). */
  readonly init?: { readonly adminPassword: string; readonly database?: string };
  /** Server options (the engine's import or serve options). */
  readonly args: readonly string[];
  readonly memoryMiB?: number;
  /** Host path of a file `exec`'d programs may read (an import's dump), read-only; see `inputPath`. */
  readonly inputFile?: string;
}

/** A server as found: discovered every time, never remembered. */
export interface ServerInfo {
  readonly id: string;
  readonly role: ServerRole;
  readonly owner: string;
  readonly templateVersion: string;
  readonly running: boolean;
  /** Epoch ms it started (running) or stopped (not running), when the runtime knows. */
  readonly since?: number;
  /** Published host port, when known. */
  readonly hostPort?: number;
  /** The port the server listens on where `exec`'d programs run (its container's, or the host port). */
  readonly serverPort?: number;
  /** Epoch ms. */
  readonly createdAt: number;
  readonly exitCode?: number;
  readonly oomKilled?: boolean;
}

export interface RuntimeEvent {
  /** The server's id, when the event is about one. */
  readonly id?: string;
  readonly role: ServerRole;
  readonly owner: string;
  readonly action: string;
}

/**
 * Runs database servers: DockerRuntime (containers via dockerode) and ProcessRuntime (the engines'
 * server programs as host processes). Servers outlive the controller; a restarted one finds them
 * with `servers.list`.
 */
export interface Runtime {
  readonly name: 'docker' | 'process';
  /** Host the controller reaches servers' ports on. */
  readonly connectHost: string;
  readonly servers: ServerControl;
  readonly programs: ProgramsBeside;
  readonly datadirs: DataDirFormat;
  close(): Promise<void>;
}

/** The servers this controller made: their lifecycle, found by looking (labels or run dir). */
export interface ServerControl {
  list(): Promise<ServerInfo[]>;
  inspect(id: string): Promise<ServerInfo | undefined>;
  /** Creates and starts a server; resolves once it runs and its port is known. */
  create(spec: ServerSpec): Promise<ServerInfo>;
  /** Clean shutdown within `timeoutSeconds`, then a kill. */
  stop(id: string, timeoutSeconds: number): Promise<void>;
  /**
   * Freezes a running server's processes where they are (no clean shutdown, no lost connection):
   * its files then hold still for a copy. `resume` thaws it. Containers: the cgroup freezer (docker
   * pause); host processes: SIGSTOP/SIGCONT to the server's process group.
   */
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  /** Removes a server (stopping it hard if it runs); a missing one is fine. */
  remove(id: string): Promise<void>;
  /** Last lines of the server's log, for error messages. */
  logs(id: string, lines: number): Promise<string>;
  /** Server died/started/removed events, for prompt reconciles; returns a stop function. */
  watch(onEvent: (event: RuntimeEvent) => void): () => void;
}

/**
 * Programs run beside a server (in its container, or on the host): the engine's clients. They never
 * run as root: in the container as its user, on the host as the server's OS user when the controller
 * is root.
 */
export interface ProgramsBeside {
  /** Where they run: on the host, or contained with the server. */
  readonly place: ClientPlace;
  /** Starts a program beside the server with a writable stdin. */
  exec(id: string, argv: readonly string[], env: Readonly<Record<string, string>>): Promise<ExecSession>;
  /** Where those programs reach the server. */
  endpoint(server: ServerInfo): Endpoint;
  /** Where those programs find the server's `inputFile`. */
  inputPath(hostPath: string): string;
  /** Whether those programs (as the user they run as beside a server of `engine`) can read that file. */
  canReadInput(hostPath: string, engine: Engine): Promise<boolean>;
}

/** What datadirs are made for: their on-disk format and their owner. */
export interface DataDirFormat {
  /**
   * What decides the on-disk format of a fresh datadir: the image's id (not its tag), or the host's
   * server program. An initialised empty datadir is cached per identity.
   */
  identity(image: string, engine: Engine): Promise<string>;
  /** Makes a fresh datadir usable by the server's user (once, at import: clones inherit it). */
  prepare(dataDir: string, engine: Engine): Promise<void>;
}
