import { createHash } from 'node:crypto';
import { constants, access, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { type ControllerConfig, publishAddressOf } from './config.js';
import { Controller } from './controller.js';
import { engineFor } from './engine/engines.js';
import { Layout } from './layout.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { ENGINES } from './objects/index.js';
import { DockerRuntime } from './runtime/docker-runtime.js';
import { loadDockerode } from './runtime/load-dockerode.js';
import { ProcessRuntime } from './runtime/process-runtime.js';
import type { Runtime } from './runtime/runtime.js';
import { withServerCache } from './runtime/server-cache.js';
import { CombinedDesiredState } from './source/desired-state.js';
import { DumpsFolder } from './source/dumps-folder.js';
import { SpecFolder } from './source/spec-folder.js';
import { loadSchemas } from './spec/schema.js';
import { StatusStore } from './state/status-store.js';
import { BtrfsStorage } from './storage/btrfs-storage.js';
import { CopyStorage } from './storage/copy-storage.js';
import type { Storage } from './storage/storage.js';
import { DataDirLock } from './util/data-dir-lock.js';
import { packageVersion } from './util/package.js';
import { HttpTransport } from './webhooks/http-transport.js';
import { WebhookNotifier } from './webhooks/webhook-notifier.js';
import { type WebhookEndpoint, loadWebhooksFile } from './webhooks/webhooks-file.js';

/** Everything a running controller is made of, for the API and for tests. */
export interface RunningController {
  readonly controller: Controller;
  readonly specs: SpecFolder;
  readonly dumps: DumpsFolder;
  readonly desired: CombinedDesiredState;
  readonly store: StatusStore;
  readonly layout: Layout;
  readonly storage: Storage;
  readonly runtime: Runtime;
  readonly metrics: Metrics;
  readonly config: ControllerConfig;
  /** Set when a webhooks file is configured. */
  readonly webhooks?: WebhookNotifier;
  stop(): Promise<void>;
}

/** Stable per data dir: tells this controller's containers from another's on the same engine. */
export function controllerIdFor(dataDir: string): string {
  return createHash('sha256').update(path.resolve(dataDir)).digest('hex').slice(0, 8);
}

/** Checks the prerequisites, one clear message each, and builds the storage driver. */
export async function createStorage(config: ControllerConfig, log: Logger): Promise<Storage> {
  try {
    await mkdir(config.dataDir, { recursive: true });
    await access(config.dataDir, constants.W_OK);
  } catch (error) {
    throw new Error(
      `data dir ${config.dataDir} is not writable (${(error as NodeJS.ErrnoException).code}): fix its permissions or set --data`,
    );
  }
  if (config.storage === 'copy') return new CopyStorage(log);
  try {
    await BtrfsStorage.check(config.dataDir);
    return new BtrfsStorage();
  } catch (error) {
    if (config.storage === 'btrfs') throw error;
    log.info({ reason: (error as Error).message }, 'storage auto: btrfs not usable here, using copy');
    return new CopyStorage(log);
  }
}

export async function createRuntime(config: ControllerConfig, log: Logger): Promise<Runtime> {
  if (config.runtime === 'docker') {
    const socketPath = process.env.DOCKER_HOST?.replace(/^unix:\/\//, '') ?? '/var/run/docker.sock';
    const Docker = loadDockerode();
    const docker = new Docker({ socketPath });
    await DockerRuntime.check(docker, socketPath);
    return new DockerRuntime({
      docker,
      controllerId: controllerIdFor(config.dataDir),
      containerUser: config.containerUser,
      publishAddress: publishAddressOf(config),
      log,
    });
  }
  const runtime = new ProcessRuntime({
    root: path.resolve(config.dataDir),
    engineFor,
    log,
    bindAddress: publishAddressOf(config),
  });
  // Each engine's host programs are checked again when a server of it is made; at start, at least one
  // engine must be usable (a host with only PostgreSQL is fine).
  const problems: string[] = [];
  for (const name of ENGINES) {
    try {
      await runtime.check(engineFor(name));
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  if (problems.length === ENGINES.length) throw new Error(problems.join('\n'));
  for (const problem of problems) log.warn(problem);
  return runtime;
}

/**
 * Builds and starts a controller from its configuration. One controller per data dir: a second one
 * on the same data dir refuses to start, naming the first (DataDirLockedError).
 */
export async function startController(config: ControllerConfig, log: Logger): Promise<RunningController> {
  // First: a bad webhooks file refuses the start before anything is touched.
  const endpoints = config.webhooksFile ? await loadWebhooksFile(config.webhooksFile) : [];
  await mkdir(config.dataDir, { recursive: true }).catch(() => undefined);
  const lock = await DataDirLock.acquire(config.dataDir, log);
  try {
    return await startLocked(config, log, lock, endpoints);
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}

async function startLocked(
  config: ControllerConfig,
  log: Logger,
  lock: DataDirLock,
  endpoints: readonly WebhookEndpoint[],
): Promise<RunningController> {
  const storage = await createStorage(config, log);
  // Reconciles read servers from one snapshot kept by events, not one listing each (issue 17).
  const runtime = withServerCache(await createRuntime(config, log), {
    log,
    relistMs: config.resyncSeconds * 1000,
  });
  const layout = new Layout(path.resolve(config.dataDir));
  const store = new StatusStore(layout, log);
  await store.load();
  const schemas = loadSchemas();
  // Both keep what they last saw good under the state dir: a file broken, or a dumps share unmounted,
  // while the controller was down then removes nothing at start.
  const specs = new SpecFolder({ dir: config.specsDir, schemas, log, stateDir: layout.stateDir });
  const dumps = new DumpsFolder({
    dir: config.dumpsDir,
    log,
    implicitTemplates: config.implicitTemplates,
    implicitEngine: config.implicitEngine,
    stateDir: layout.stateDir,
  });
  await mkdir(config.dumpsDir, { recursive: true }).catch(() => undefined);
  await dumps.start();
  await specs.start();
  const desired = new CombinedDesiredState(specs, dumps);
  const metrics = new Metrics();
  const controller = new Controller({ config, log, desired, storage, runtime, store, layout, metrics });
  // Listening before the first reconcile: what happens at start is told too.
  const webhooks =
    endpoints.length > 0
      ? new WebhookNotifier({
          endpoints,
          events: store,
          transport: new HttpTransport(),
          log,
          metrics,
          userAgent: `myaas/${packageVersion()}`,
        })
      : undefined;
  webhooks?.start();
  await controller.start();
  return {
    controller,
    specs,
    dumps,
    desired,
    store,
    layout,
    storage,
    runtime,
    metrics,
    config,
    ...(webhooks ? { webhooks } : {}),
    async stop() {
      try {
        await controller.stop();
        webhooks?.stop();
        await specs.stop();
        await dumps.stop();
        await runtime.close();
      } finally {
        await lock.release();
      }
    },
  };
}
