import { mkdir } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { readClusterKey } from './cluster/cluster-key.js';
import { DatabasePods } from './cluster/database-pods.js';
import { KubernetesDatabaseServers } from './cluster/database-servers.js';
import type { ControllerConfig } from './config.js';
import { Controller, type ControllerParts } from './controller.js';
import { engineFor } from './engine/engines.js';
import { Layout } from './layout.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { createRuntime, createStorage } from './run.js';
import type { Runtime } from './runtime/runtime.js';
import { scopeOf } from './source/kubernetes/custom-resources.js';
import { loadKubeConfig } from './source/kubernetes/kube-config.js';
import { KubernetesDesiredState } from './source/kubernetes/kubernetes-desired-state.js';
import { KubernetesStatusSink } from './source/kubernetes/kubernetes-status-sink.js';
import { LeaderLease } from './source/kubernetes/leader-lease.js';
import { loadSchemas } from './spec/schema.js';
import { StatusForwarder } from './state/status-sink.js';
import { StatusStore } from './state/status-store.js';
import type { Storage } from './storage/storage.js';
import { DataDirLock } from './util/data-dir-lock.js';

/** A controller whose desired state is Kubernetes custom resources (`--source kubernetes`). */
export interface RunningKubernetesController {
  /** The file-mode controller on this host's runtime and storage; absent with `--database-pods`. */
  readonly controller?: Controller;
  /** `--database-pods`: databases as Pods, placed by kube-scheduler on the node agents' nodes. */
  readonly databasePods?: DatabasePods;
  readonly desired: KubernetesDesiredState;
  readonly store: StatusStore;
  readonly forwarder: StatusForwarder;
  readonly config: ControllerConfig;
  stop(): Promise<void>;
}

/** What tests may put in place of the machine's (a fake runtime, copy storage, a test server's config). */
export interface KubernetesControllerParts {
  readonly kubeConfig?: KubeConfig;
  readonly engineFor?: ControllerParts['engineFor'];
  readonly runtime?: Runtime;
  readonly storage?: Storage;
  /** With leader election: called when this replica stops leading (it must stop reconciling). */
  readonly onLeadershipLost?: () => void;
  /** `--database-pods`: the cluster key, instead of reading `config.clusterKeyFile`. */
  readonly clusterKey?: string;
}

/** Where the chart mounts the node pools, when `--pool-path` is not given. */
export const DEFAULT_POOL_PATH = '/var/lib/myaas';

function requiredKeyFile(config: ControllerConfig): string {
  if (!config.clusterKeyFile)
    throw new Error(
      '--database-pods needs --cluster-key-file FILE (or MYAAS_CLUSTER_KEY_FILE): the key the node agents share',
    );
  return config.clusterKeyFile;
}

/** The kubeconfig context's namespace, as kubectl reads it (in a Pod: its own, from the service account). */
export function contextNamespace(kubeConfig: KubeConfig): string {
  return kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
}

/**
 * Starts the same controller (reconcilers, storage, runtime, status store, deletion guard, trash) on the
 * Kubernetes desired state, publishing status and credentials to the resources. Waits for the first
 * list of both kinds, however long the API server takes to answer: nothing is decided before it.
 */
export async function startKubernetesController(
  config: ControllerConfig,
  log: Logger,
  parts: KubernetesControllerParts = {},
): Promise<RunningKubernetesController> {
  const kubeConfig = parts.kubeConfig ?? loadKubeConfig(config.kubeconfig);
  await mkdir(config.dataDir, { recursive: true }).catch(() => undefined);
  const lock = await DataDirLock.acquire(config.dataDir, log);
  try {
    const clusterKey = config.databasePods
      ? (parts.clusterKey ?? (await readClusterKey(requiredKeyFile(config))))
      : undefined;
    const storage = config.databasePods ? undefined : (parts.storage ?? (await createStorage(config, log)));
    const runtime = config.databasePods ? undefined : (parts.runtime ?? (await createRuntime(config, log)));
    const layout = new Layout(path.resolve(config.dataDir));
    const store = new StatusStore(layout, log);
    await store.load();
    const scope = scopeOf(config.namespace ?? contextNamespace(kubeConfig));
    const desired = new KubernetesDesiredState({ kubeConfig, scope, schemas: loadSchemas(), log });
    log.info({ scope }, 'reading Templates and Databases from Kubernetes');
    await desired.start();
    // One active replica: candidates wait here, informers warm, until they hold the Lease.
    let lease: LeaderLease | undefined;
    if (config.leaderElect) {
      lease = new LeaderLease({
        kubeConfig,
        namespace: process.env.POD_NAMESPACE ?? contextNamespace(kubeConfig),
        identity: `${process.env.HOSTNAME ?? hostname()}-${process.pid}`,
        log,
      });
      log.info('waiting to lead (Lease myaas-controller)');
      await lease.acquire(parts.onLeadershipLost ?? (() => undefined));
    }
    const sink = new KubernetesStatusSink({ kubeConfig, locate: (key) => desired.locate(key), log });
    const forwarder = new StatusForwarder({ store, sink, log });
    forwarder.start();
    // A resource seen (again) gets the status the store holds for it, changed or not.
    const offDesired = desired.subscribe((keys) => forwarder.publish(keys));
    forwarder.publish(desired.list().map((d) => d.key));
    let controller: Controller | undefined;
    let databasePods: DatabasePods | undefined;
    let servers: KubernetesDatabaseServers | undefined;
    if (config.databasePods) {
      servers = new KubernetesDatabaseServers({ kubeConfig, scope, log });
      await servers.start();
      databasePods = new DatabasePods({
        config,
        desired,
        store,
        servers,
        engineFor: parts.engineFor ?? engineFor,
        clusterKey: clusterKey!,
        poolClonesDir: new Layout(config.poolPath ?? DEFAULT_POOL_PATH).clonesDir,
        log,
      });
      databasePods.start();
      log.info(
        { poolPath: config.poolPath ?? DEFAULT_POOL_PATH },
        'databases run as Pods; node agents make the clones',
      );
    } else {
      controller = new Controller({
        config,
        log,
        desired,
        storage: storage!,
        runtime: runtime!,
        store,
        layout,
        metrics: new Metrics(),
        ...(parts.engineFor ? { engineFor: parts.engineFor } : {}),
      });
      await controller.start();
    }
    return {
      ...(controller ? { controller } : {}),
      ...(databasePods ? { databasePods } : {}),
      desired,
      store,
      forwarder,
      config,
      async stop() {
        try {
          await controller?.stop();
          await databasePods?.stop();
          await servers?.stop();
          await lease?.stop();
          offDesired();
          forwarder.stop();
          await desired.stop();
          if (runtime && !parts.runtime) await runtime.close();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (error) {
    await lock.release().catch(() => undefined);
    throw error;
  }
}
