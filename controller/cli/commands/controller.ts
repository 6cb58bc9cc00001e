import path from 'node:path';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { isLoopbackHost } from '../../api/access.js';
import { type ApiServer, createApi } from '../../api/api-server.js';
import {
  type ControllerConfig,
  RUNTIMES,
  type RuntimeName,
  SOURCES,
  STORAGES,
  type SourceName,
  type StorageName,
  defaultConfig,
} from '../../config.js';
import { type Logger, createLogger } from '../../log.js';
import { ENGINES, type EngineName } from '../../objects/index.js';
import { DURATION_HELP, parseDuration } from '../../spec/duration.js';
import { preferSmallHeap } from '../../util/heap.js';
import { banner } from '../banner.js';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer from 1 up');
  return n;
};

/** Bytes (0 up), or off (-1). */
export const loadDataAfter = (value: string) => {
  if (value.trim() === 'off') return -1;
  // Number('') is 0: only digits count.
  const n = /^\s*\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n))
    throw new InvalidArgumentError('expected a number of bytes from 0 up, or off');
  return n;
};

/** A duration flag: seconds or 30s, 15m, 8h, 7d; 0 turns the thing off. */
const duration = (value: string) => {
  if (/^0+[smhd]?$/.test(value.trim())) return 0;
  const seconds = parseDuration(/^\d+$/.test(value) ? Number(value) : value);
  if (seconds === undefined) throw new InvalidArgumentError(DURATION_HELP);
  return seconds;
};

/** The controller's flags, each defaulting to the built-in configuration (several also read from env). */
function controllerOptions(defaults: ControllerConfig): Option[] {
  return [
    new Option(
      '--source <name>',
      'where the desired state comes from: the specs dir, or Kubernetes custom resources',
    )
      .choices(SOURCES)
      .env('MYAAS_SOURCE')
      .default(defaults.source),
    new Option(
      '--namespace <name>',
      'kubernetes source: the namespace to read Templates and Databases from, or all',
    ).env('MYAAS_NAMESPACE'),
    new Option(
      '--kubeconfig <file>',
      'kubernetes source: kubeconfig file (default: KUBECONFIG, ~/.kube/config, in-cluster)',
    ),
    new Option(
      '--leader-elect',
      'kubernetes source: reconcile only while holding the myaas-controller Lease (for more than one replica)',
    ),
    new Option(
      '--database-pods',
      'kubernetes source: run databases as Pods placed by kube-scheduler on nodes whose agent (myaas agent) holds the template version',
    ).env('MYAAS_DATABASE_PODS'),
    new Option(
      '--cluster-key-file <file>',
      'kubernetes: the key the controller and the node agents share (template admin passwords are derived from it)',
    ).env('MYAAS_CLUSTER_KEY_FILE'),
    new Option(
      '--pool-path <dir>',
      "kubernetes: the node agents' data root, the same on every node (database Pods mount <dir>/clones)",
    )
      .env('MYAAS_POOL_PATH')
      .default('/var/lib/myaas'),
    new Option('--specs <dir>', 'specs dir (YAML)').env('MYAAS_SPECS_DIR').default(defaults.specsDir),
    new Option('--dumps <dir>', 'dumps dir (.sql, .sql.gz)')
      .env('MYAAS_DUMPS_DIR')
      .default(defaults.dumpsDir),
    new Option('--data <dir>', 'data root (templates, clones, state)')
      .env('MYAAS_DATA_DIR')
      .default(defaults.dataDir),
    new Option('--runtime <name>', 'where servers run')
      .choices(RUNTIMES)
      .env('MYAAS_RUNTIME')
      .default(defaults.runtime),
    new Option('--storage <name>', 'how datadirs are cloned')
      .choices(STORAGES)
      .env('MYAAS_STORAGE')
      .default(defaults.storage),
    new Option('--image <image>', 'default server image (docker runtime)')
      .env('MYAAS_IMAGE')
      .default(defaults.image),
    new Option('--postgres-image <image>', 'default server image of postgres templates (docker runtime)')
      .env('MYAAS_POSTGRES_IMAGE')
      .default(defaults.postgresImage),
    new Option('--listen <host:port>', 'HTTP API address').env('MYAAS_LISTEN').default(defaults.listen),
    new Option('--hostname <host>', 'host name given to users')
      .env('MYAAS_HOSTNAME')
      .default(defaults.hostname),
    new Option('--concurrency <n>', 'reconciles at once')
      .argParser(positiveInt)
      .default(defaults.reconcileConcurrency),
    new Option('--import-concurrency <n>', 'imports at once')
      .argParser(positiveInt)
      .default(defaults.importConcurrency),
    new Option('--resync <seconds>', 'full resync period')
      .argParser(positiveInt)
      .default(defaults.resyncSeconds),
    new Option(
      '--idle-poll <duration>',
      'how often the client sessions of databases with an idle policy are counted',
    )
      .argParser(duration)
      .env('MYAAS_IDLE_POLL')
      .default(defaults.idlePollSeconds, '30s'),
    new Option('--keep-versions <n>', 'template versions kept')
      .argParser(positiveInt)
      .default(defaults.versionsToKeep),
    new Option('--import-memory <MiB>', 'buffer pool of an import server')
      .argParser(positiveInt)
      .env('MYAAS_IMPORT_MEMORY_MIB')
      .default(defaults.importMemoryMiB),
    new Option(
      '--import-jobs <n>',
      'parallel connections of an import where the dump allows (PostgreSQL custom-format archives)',
    )
      .argParser(positiveInt)
      .env('MYAAS_IMPORT_JOBS')
      .default(defaults.importJobs),
    new Option(
      '--import-load-data-after <bytes>',
      "a MariaDB/MySQL dump table's rows past this many bytes load through LOAD DATA, converted exactly; off: never",
    )
      .argParser(loadDataAfter)
      .env('MYAAS_IMPORT_LOAD_DATA_AFTER')
      .default(defaults.importLoadDataAfterBytes),
    new Option(
      '--users <file>',
      'users file: names, roles (viewer, developer, admin), token hashes, quotas',
    ).env('MYAAS_USERS_FILE'),
    new Option(
      '--webhooks <file>',
      'webhooks file: endpoints (url, secret, events) told of databases and templates (README "Webhooks")',
    ).env('MYAAS_WEBHOOKS_FILE'),
    new Option(
      '--insecure-no-auth',
      'serve a non-loopback address without users: anyone who reaches it reads every password (trusted networks only)',
    ),
    new Option(
      '--publish-address <ip>',
      'host address database ports are published on (default: the API host; 127.0.0.1 for a loopback API)',
    ).env('MYAAS_PUBLISH_ADDRESS'),
    new Option('--container-user <uid:gid>', 'user database containers run as (docker runtime)')
      .argParser((v) => {
        if (!/^\d+(:\d+)?$/.test(v)) throw new InvalidArgumentError('expected uid:gid, e.g. 999:999');
        return v;
      })
      .env('MYAAS_CONTAINER_USER')
      .default(defaults.containerUser),
    new Option(
      '--database-user <name>',
      "the user every database gets beside root/postgres (the user's password)",
    )
      .argParser((v) => {
        if (!/^[a-z_][a-z0-9_]{0,30}$/.test(v))
          throw new InvalidArgumentError(
            'expected a lower-case SQL user name (letters, digits, _), e.g. myaas',
          );
        if (v === 'root' || v === 'postgres')
          throw new InvalidArgumentError(`${v} is the admin account; pick another name, e.g. myaas`);
        return v;
      })
      .env('MYAAS_DATABASE_USER')
      .default(defaults.databaseUser),
    new Option('--database-memory <MiB>', 'memory limit of each database container (0: none)')
      .argParser((v) => (Number(v) === 0 ? 0 : positiveInt(v)))
      .env('MYAAS_DATABASE_MEMORY_MIB')
      .default(defaults.databaseMemoryMiB),
    new Option(
      '--deletion-guard <n>',
      'removals allowed at once before the guard holds them (and more than half)',
    )
      .argParser(positiveInt)
      .default(defaults.deletionGuardMax),
    new Option('--deletion-guard-limit <n>', 'removals at once held until confirmed, whatever their share')
      .argParser(positiveInt)
      .default(defaults.deletionGuardLimit),
    new Option('--removal-grace <duration>', 'how long a spec must stay gone before its object is removed')
      .argParser(duration)
      .env('MYAAS_REMOVAL_GRACE')
      .default(defaults.removalGraceSeconds),
    new Option(
      '--trash-retention <duration>',
      'how long removed databases and templates stay restorable (0: off)',
    )
      .argParser(duration)
      .env('MYAAS_TRASH_RETENTION')
      .default(defaults.trashRetentionSeconds),
    new Option('--trash-min-free <percent>', 'empty the trash oldest first below this much free space')
      .argParser((v) => {
        const n = Number(v);
        if (!(n >= 0 && n < 100)) throw new InvalidArgumentError('expected a percentage from 0 to 99');
        return n;
      })
      .default(defaults.trashMinFreePercent),
    new Option('--no-implicit-templates', 'do not make templates of unclaimed dumps'),
    new Option('--implicit-engine <engine>', 'engine of the templates made of unclaimed dumps')
      .choices([...ENGINES])
      .env('MYAAS_IMPLICIT_ENGINE')
      .default(defaults.implicitEngine),
  ];
}

/** The parsed flags of `controller` (commander names them after the long flags). */
interface ControllerFlags {
  source: SourceName;
  namespace?: string;
  kubeconfig?: string;
  leaderElect?: boolean;
  databasePods?: boolean;
  clusterKeyFile?: string;
  poolPath: string;
  specs: string;
  dumps: string;
  data: string;
  runtime: RuntimeName;
  storage: StorageName;
  image: string;
  postgresImage: string;
  listen: string;
  hostname: string;
  concurrency: number;
  importConcurrency: number;
  resync: number;
  idlePoll: number;
  keepVersions: number;
  implicitTemplates: boolean;
  implicitEngine: EngineName;
  importMemory: number;
  importJobs: number;
  importLoadDataAfter: number;
  databaseMemory: number;
  containerUser: string;
  databaseUser: string;
  deletionGuard: number;
  users?: string;
  webhooks?: string;
  insecureNoAuth?: boolean;
  publishAddress?: string;
  deletionGuardLimit: number;
  removalGrace: number;
  trashRetention: number;
  trashMinFree: number;
}

function configOf(options: ControllerFlags, defaults: ControllerConfig): ControllerConfig {
  return {
    ...defaults,
    source: options.source,
    ...(options.namespace ? { namespace: options.namespace } : {}),
    ...(options.kubeconfig ? { kubeconfig: path.resolve(options.kubeconfig) } : {}),
    ...(options.leaderElect ? { leaderElect: true } : {}),
    ...(options.databasePods ? { databasePods: true } : {}),
    ...(options.clusterKeyFile ? { clusterKeyFile: path.resolve(options.clusterKeyFile) } : {}),
    poolPath: options.poolPath,
    specsDir: path.resolve(options.specs),
    dumpsDir: path.resolve(options.dumps),
    dataDir: path.resolve(options.data),
    runtime: options.runtime,
    storage: options.storage,
    image: options.image,
    postgresImage: options.postgresImage,
    listen: options.listen,
    hostname: options.hostname,
    reconcileConcurrency: options.concurrency,
    importConcurrency: options.importConcurrency,
    resyncSeconds: options.resync,
    idlePollSeconds: options.idlePoll,
    versionsToKeep: options.keepVersions,
    implicitTemplates: options.implicitTemplates,
    implicitEngine: options.implicitEngine,
    importMemoryMiB: options.importMemory,
    importJobs: options.importJobs,
    importLoadDataAfterBytes: options.importLoadDataAfter,
    databaseMemoryMiB: options.databaseMemory,
    containerUser: options.containerUser,
    databaseUser: options.databaseUser,
    deletionGuardMax: options.deletionGuard,
    deletionGuardLimit: options.deletionGuardLimit,
    removalGraceSeconds: options.removalGrace,
    trashRetentionSeconds: options.trashRetention,
    trashMinFreePercent: options.trashMinFree,
    ...(process.env.MYAAS_API_TOKEN ? { apiToken: process.env.MYAAS_API_TOKEN } : {}),
    ...(options.users ? { usersFile: path.resolve(options.users) } : {}),
    ...(options.webhooks ? { webhooksFile: path.resolve(options.webhooks) } : {}),
    ...(options.insecureNoAuth ? { insecureNoAuth: true } : {}),
    ...(options.publishAddress ? { publishAddress: options.publishAddress } : {}),
  };
}

/** Starts the controller and its API, then runs until SIGTERM or SIGINT (exit 2 when it cannot start). */
async function runController(config: ControllerConfig, options: { banner?: boolean } = {}): Promise<void> {
  preferSmallHeap();
  const log = createLogger();
  if (config.source === 'kubernetes') return runKubernetesController(config, log);
  const exposed = !isLoopbackHost(
    config.listen.slice(0, Math.max(0, config.listen.lastIndexOf(':'))) || '127.0.0.1',
  );
  if (exposed && !config.usersFile && !config.apiToken) {
    if (!config.insecureNoAuth) {
      process.stderr.write(
        `myaas: refusing to listen on ${config.listen} without users: anyone reaching it could read every database's password and run any image. Add a users file (--users users.yaml; README "Team server"; \`myaas hash-token\` makes a token), set MYAAS_API_TOKEN, or listen on 127.0.0.1. On a trusted network only: --insecure-no-auth\n`,
      );
      process.exit(2);
    }
    log.warn(
      { listen: config.listen },
      'INSECURE: serving a non-loopback address without users (--insecure-no-auth)',
    );
  }
  // Loaded here, not at the top: a CLI command needs none of it, and the file-mode controller none of
  // the Kubernetes client (@kubernetes/client-node alone is ~70 MiB of RSS).
  const { startController } = await import('../../run.js');
  const running = await startOrExit(log, () => startController(config, log));
  let api: ApiServer;
  try {
    api = createApi(running, log, config.apiToken, config.usersFile);
    const port = await api.listen(config.listen, { insecureNoAuth: config.insecureNoAuth ?? false });
    if (options.banner) {
      const host = config.listen.slice(0, Math.max(0, config.listen.lastIndexOf(':'))) || '127.0.0.1';
      const url = `http://${host}:${port}`;
      process.stdout.write(`${banner(url, api.serves('/ui/') ? `${url}/ui/` : undefined)}\n`);
    }
  } catch (error) {
    process.stderr.write(`myaas: ${(error as Error).message}\n`);
    await running.stop();
    process.exit(2);
  }
  stopOnSignals(log, async () => {
    await api.close().catch(() => undefined);
    await running.stop().catch((error: unknown) => log.error({ err: error }, 'stopping failed'));
  });
}

/** Starts the controller, or says why it cannot and exits 2. */
async function startOrExit<T>(log: Logger, start: () => Promise<T>): Promise<T> {
  try {
    return await start();
  } catch (error) {
    log.fatal({ err: error }, (error as Error).message);
    process.stderr.write(`myaas: ${(error as Error).message}\n`);
    process.exit(2);
  }
}

/** Runs `stop` on SIGTERM or SIGINT, then exits; a second signal exits at once. */
function stopOnSignals(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, 'stopping; databases keep running');
    // A shutdown that hangs (an engine that stopped answering, say) must not keep the process:
    // nothing is lost by exiting, the next start is level-triggered.
    setTimeout(() => {
      log.error('shutdown did not finish within 20 s: exiting anyway');
      process.exit(1);
    }, 20_000).unref();
    await stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
  process.on('SIGINT', () => void onSignal('SIGINT'));
}

/**
 * `--source kubernetes`: the same controller on Template and Database custom resources; users work with
 * kubectl, so the HTTP API (whose writes are spec files) is not served in this mode yet.
 */
async function runKubernetesController(config: ControllerConfig, log: Logger): Promise<void> {
  const { startKubernetesController } = await import('../../run-kubernetes.js');
  const running = await startOrExit(log, () =>
    // Leadership lost: exit, and come back as a candidate (the Deployment restarts the container).
    startKubernetesController(config, log, {
      onLeadershipLost: () => {
        log.error('leadership lost: exiting to rejoin as a candidate');
        process.exit(1);
      },
    }),
  );
  log.info('kubernetes source: the HTTP API is not served in this mode; use kubectl get/apply databases');
  stopOnSignals(log, () =>
    running.stop().catch((error: unknown) => log.error({ err: error }, 'stopping failed')),
  );
}

/** `controller`: the long-running process that makes databases and templates match the specs dir. */
export function registerControllerCommand(program: Command): void {
  const defaults = defaultConfig();
  const command = program
    .command('controller')
    .description(
      'run the controller: watch the specs dir and make MySQL/MariaDB and PostgreSQL databases and templates match it',
    )
    .addHelpText(
      'after',
      '\nExample:\n  myaas controller --specs ./specs --dumps ./specs/dumps --data ./.data\n  myaas controller --runtime docker --storage btrfs --listen 0.0.0.0:5001 --users users.yaml\n  myaas controller --source kubernetes --namespace dev --runtime docker   # Template/Database custom resources',
    );
  for (const option of controllerOptions(defaults)) command.addOption(option);
  command.addOption(new Option('--banner', 'print where the API is and what to run next, once it listens'));
  command.action((options: ControllerFlags & { banner?: boolean }) =>
    runController(configOf(options, defaults), { banner: options.banner ?? false }),
  );
}

/** `agent`: the node agent of Kubernetes mode (docs/kubernetes.md), one per node (the chart's DaemonSet). */
export function registerAgentCommand(program: Command): void {
  const defaults = defaultConfig();
  const command = program
    .command('agent')
    .description(
      "run a node agent (Kubernetes mode): import the Templates this Node is selected for into the node's pool, label the Node with the versions it holds, make the clones of the database Pods bound here",
    )
    .addHelpText(
      'after',
      '\nExample:\n  myaas agent --node "$NODE_NAME" --data /var/lib/myaas --dumps /var/lib/myaas-dumps --cluster-key-file /etc/myaas/cluster-key --storage btrfs',
    );
  for (const option of controllerOptions(defaults)) command.addOption(option);
  command.addOption(new Option('--node <name>', "this machine's Node name").env('NODE_NAME'));
  command.action(async (options: ControllerFlags & { node?: string }) => {
    preferSmallHeap();
    const log = createLogger();
    const config = { ...configOf(options, defaults), source: 'kubernetes' as const };
    const { startNodeAgent } = await import('../../cluster/node-agent.js');
    const running = await startOrExit(log, () => startNodeAgent(config, options.node ?? '', log));
    stopOnSignals(log, () =>
      running.stop().catch((error: unknown) => log.error({ err: error }, 'stopping failed')),
    );
  });
}
