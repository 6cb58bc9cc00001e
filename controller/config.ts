import { availableParallelism } from 'node:os';
import path from 'node:path';
import { DEFAULT_ENGINE } from './engine/defaults.js';
import type { EngineName } from './objects/index.js';

export const RUNTIMES = ['process', 'docker'] as const;
export type RuntimeName = (typeof RUNTIMES)[number];
export const STORAGES = ['auto', 'btrfs', 'copy'] as const;
export type StorageName = (typeof STORAGES)[number];
/** Where the desired state comes from: the specs dir (the default), or Kubernetes custom resources. */
export const SOURCES = ['files', 'kubernetes'] as const;
export type SourceName = (typeof SOURCES)[number];

/** Everything the controller is configured with; flags and MYAAS_* env vars fill it. */
export interface ControllerConfig {
  /** `files`: the specs dir (and the dumps dir's implicit templates); `kubernetes`: custom resources. */
  readonly source: SourceName;
  /** With the kubernetes source: the namespace whose resources are read, or `all`. */
  readonly namespace?: string;
  /** With the kubernetes source: a kubeconfig file (else KUBECONFIG, ~/.kube/config or in-cluster). */
  readonly kubeconfig?: string;
  /** With the kubernetes source: reconcile only while holding the `myaas-controller` Lease (replicas > 1). */
  readonly leaderElect?: boolean;
  /**
   * With the kubernetes source: databases run as Pods that kube-scheduler places on nodes whose agent
   * (`myaas agent`) holds the template's version; the agents make the clones and import the templates.
   */
  readonly databasePods?: boolean;
  /** The file holding the cluster key the controller and the node agents share (databasePods, agent). */
  readonly clusterKeyFile?: string;
  /** The node agents' data root, the same path on every node: database Pods mount `<poolPath>/clones`. */
  readonly poolPath?: string;
  readonly specsDir: string;
  readonly dumpsDir: string;
  readonly dataDir: string;
  readonly runtime: RuntimeName;
  readonly storage: StorageName;
  /** Default image for mariadb/mysql templates that name none (docker runtime). */
  readonly image: string;
  /** Default image for postgres templates that name none (docker runtime). */
  readonly postgresImage: string;
  /** host:port the HTTP API listens on. */
  readonly listen: string;
  /** Host name given to users in connection info. */
  readonly hostname: string;
  /** Schema a dump is loaded into when its Template names none. */
  readonly defaultDatabase: string;
  /** User name of each database's own account. */
  readonly databaseUser: string;
  readonly reconcileConcurrency: number;
  readonly importConcurrency: number;
  readonly resyncSeconds: number;
  /** How often the idle watch counts the client sessions of databases with an idle policy. */
  readonly idlePollSeconds: number;
  /** Template versions kept per template, current included. */
  readonly versionsToKeep: number;
  /** `<name>.sql[.gz]` files in the dumps dir with no Template spec become templates. */
  readonly implicitTemplates: boolean;
  /** Engine of implicit templates. */
  readonly implicitEngine: EngineName;
  /** More removals at once than this are held until confirmed, whatever the share... */
  readonly deletionGuardLimit: number;
  /** ...and so are more than this many that are also more than `deletionGuardFraction` of all. */
  readonly deletionGuardMax: number;
  readonly deletionGuardFraction: number;
  /** A spec must stay gone this long before its object is removed (explicit deletions do not wait). */
  readonly removalGraceSeconds: number;
  /** How long removed databases and templates stay restorable in the trash (0: removed at once). */
  readonly trashRetentionSeconds: number;
  /** The trash is emptied oldest first while the data filesystem has less free space than this share. */
  readonly trashMinFreePercent: number;
  /** Memory bound for an import server's buffer pool, in MiB. */
  readonly importMemoryMiB: number;
  /** Connections an import may load with, where the dump allows it (PostgreSQL archives). */
  readonly importJobs: number;
  /**
   * A mysqldump/mariadb-dump table's rows past this many bytes go in through LOAD DATA, converted
   * exactly (smaller tables are not worth a client of their own); -1 turns that off.
   */
  readonly importLoadDataAfterBytes: number;
  /** Memory limit of each database container, in MiB (0: none). */
  readonly databaseMemoryMiB: number;
  /** How long a database may take to accept connections after its server starts. */
  readonly readyTimeoutSeconds: number;
  /** Default import timeout, when a Template does not set spec.import.timeout. */
  readonly importTimeoutSeconds: number;
  /** uid:gid the database servers run as in containers: the official images' mysql user. */
  readonly containerUser: string;
  /**
   * The host address database ports are published on (containers) or servers listen on (host
   * processes). Never widened by the controller: by default the API's own host (loopback in the
   * quick start; all addresses only when the API listens on all of them).
   */
  readonly publishAddress?: string;
  /** The users file (roles, tokens, quotas); without it (and without apiToken) only loopback is served. */
  readonly usersFile?: string;
  /** Serve a non-loopback API without users: for trusted networks only, and said loudly. */
  readonly insecureNoAuth?: boolean;
  /** The webhooks file (endpoints, secrets, events): without it no webhook is sent. */
  readonly webhooksFile?: string;
  /** Optional bearer token guarding the API. */
  readonly apiToken?: string;
}

/** Where database ports are published: the configured address, else the API's own host. */
export function publishAddressOf(config: ControllerConfig): string {
  if (config.publishAddress) return config.publishAddress;
  const colon = config.listen.lastIndexOf(':');
  const host = (colon > 0 ? config.listen.slice(0, colon) : '127.0.0.1').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '' ? '127.0.0.1' : host;
}

export function defaultConfig(cwd = process.cwd()): ControllerConfig {
  return {
    source: 'files',
    specsDir: path.join(cwd, 'specs'),
    dumpsDir: path.join(cwd, 'specs', 'dumps'),
    dataDir: path.join(cwd, '.data'),
    runtime: 'process',
    storage: 'auto',
    image: 'mariadb:11.4',
    postgresImage: 'postgres:16',
    listen: '127.0.0.1:5001',
    hostname: 'localhost',
    defaultDatabase: 'default',
    databaseUser: 'myaas',
    reconcileConcurrency: 8,
    importConcurrency: 1,
    resyncSeconds: 30,
    idlePollSeconds: 30,
    versionsToKeep: 2,
    implicitTemplates: true,
    implicitEngine: DEFAULT_ENGINE,
    deletionGuardLimit: 10,
    deletionGuardMax: 3,
    deletionGuardFraction: 0.5,
    removalGraceSeconds: 10,
    trashRetentionSeconds: 24 * 3600,
    trashMinFreePercent: 10,
    importMemoryMiB: 1024,
    // One per core, at most 4: beyond that the import competes with the databases being served.
    importJobs: Math.max(1, Math.min(4, availableParallelism())),
    importLoadDataAfterBytes: 2 ** 20,
    // A default for every database (containers): one runaway clone cannot take the machine.
    databaseMemoryMiB: 1024,
    readyTimeoutSeconds: 60,
    importTimeoutSeconds: 6 * 3600,
    containerUser: '999:999',
  };
}
