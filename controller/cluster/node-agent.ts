import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
} from '@kubernetes/client-node';
import type { ControllerConfig } from '../config.js';
import { Controller } from '../controller.js';
import type { Engine } from '../engine/engine.js';
import { engineFor as realEngineFor } from '../engine/engines.js';
import { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import { Metrics } from '../metrics.js';
import type { EngineName } from '../objects/index.js';
import { contextNamespace } from '../run-kubernetes.js';
import { createRuntime, createStorage } from '../run.js';
import type { Runtime } from '../runtime/runtime.js';
import { scopeOf } from '../source/kubernetes/custom-resources.js';
import { loadKubeConfig } from '../source/kubernetes/kube-config.js';
import { KubernetesDesiredState } from '../source/kubernetes/kubernetes-desired-state.js';
import { loadSchemas } from '../spec/schema.js';
import { StatusStore } from '../state/status-store.js';
import type { Storage } from '../storage/storage.js';
import { DataDirLock } from '../util/data-dir-lock.js';
import { ClonePreparer } from './clone-preparer.js';
import { readClusterKey, templateAdminPassword } from './cluster-key.js';
import { NodeTemplates } from './node-templates.js';
import { NodeVersions } from './node-versions.js';
import { ObjectCache } from './object-cache.js';

export interface NodeAgentParts {
  readonly kubeConfig?: KubeConfig;
  readonly runtime?: Runtime;
  readonly storage?: Storage;
  readonly engineFor?: (name: EngineName) => Engine;
  /** Instead of reading `config.clusterKeyFile`. */
  readonly clusterKey?: string;
}

export interface RunningNodeAgent {
  readonly nodeName: string;
  readonly layout: Layout;
  readonly controller: Controller;
  readonly clones: ClonePreparer;
  stop(): Promise<void>;
}

/**
 * `myaas agent` (one per node, a DaemonSet): this node's pool. Its template controller is today's
 * (storage driver, import runner, versions, trash) on the Templates whose nodeSelector selects this
 * Node; it labels the Node with the versions it holds ready, and makes the clone of each database Pod
 * kube-scheduler binds to this node. It never creates Pods nor writes a resource's spec or status.
 */
export async function startNodeAgent(
  config: ControllerConfig,
  nodeName: string,
  log: Logger,
  parts: NodeAgentParts = {},
): Promise<RunningNodeAgent> {
  if (!nodeName)
    throw new Error(
      'myaas agent needs its Node name: --node NAME, or NODE_NAME (the chart sets it from spec.nodeName)',
    );
  const agentLog = log.child({ node: nodeName });
  const kubeConfig = parts.kubeConfig ?? loadKubeConfig(config.kubeconfig);
  if (!parts.clusterKey && !config.clusterKeyFile)
    throw new Error(
      'myaas agent needs --cluster-key-file FILE (or MYAAS_CLUSTER_KEY_FILE): the key the controller shares',
    );
  const clusterKey = parts.clusterKey ?? (await readClusterKey(config.clusterKeyFile!));
  await mkdir(config.dataDir, { recursive: true }).catch(() => undefined);
  const lock = await DataDirLock.acquire(config.dataDir, agentLog);
  const stops: (() => Promise<void> | void)[] = [];
  try {
    const storage = parts.storage ?? (await createStorage(config, agentLog));
    const runtime = parts.runtime ?? (await createRuntime(config, agentLog));
    if (!parts.runtime) stops.push(() => runtime.close());
    const layout = new Layout(path.resolve(config.dataDir));
    await mkdir(layout.clonesDir, { recursive: true });
    const store = new StatusStore(layout, agentLog);
    await store.load();
    const scope = scopeOf(config.namespace ?? contextNamespace(kubeConfig));
    const core = kubeConfig.makeApiClient(CoreV1Api);
    // Made once the Node is known; its informer tells them of every change from then on.
    const late: { templates?: NodeTemplates; versions?: NodeVersions } = {};
    const node = new ObjectCache<V1Node>({
      kubeConfig,
      path: '/api/v1/nodes',
      fieldSelector: `metadata.name=${nodeName}`,
      list: () =>
        core.listNode({ fieldSelector: `metadata.name=${nodeName}` }) as unknown as Promise<
          KubernetesListObject<KubernetesObject>
        >,
      log: agentLog,
      onChange: () => {
        late.templates?.nodeChanged();
        void late.versions?.publish();
      },
    });
    await node.start();
    stops.unshift(() => node.stop());
    const thisNode = () => node.get(undefined, nodeName);
    if (!thisNode()) throw new Error(`Node ${nodeName} does not exist: --node must name this machine's Node`);
    const desired = new KubernetesDesiredState({ kubeConfig, scope, schemas: loadSchemas(), log: agentLog });
    await desired.start();
    stops.unshift(() => desired.stop());
    const templates = new NodeTemplates(desired, thisNode);
    late.templates = templates;
    stops.unshift(() => templates.close());
    const engineFor = parts.engineFor ?? realEngineFor;
    const controller = new Controller({
      config,
      log: agentLog,
      desired: templates,
      storage,
      runtime,
      store,
      layout,
      metrics: new Metrics(),
      engineFor,
      templateAdminPassword: (template) => templateAdminPassword(clusterKey, template),
    });
    const versions = new NodeVersions({
      kubeConfig,
      nodeName,
      node: thisNode,
      templates,
      versions: controller.versions,
      log: agentLog,
    });
    // A template's status changes when an import ends (or its versions are pruned): labels follow.
    const offStore = store.subscribe((key) => {
      if (key.startsWith('Template/')) void versions.publish();
    });
    stops.unshift(offStore);
    late.versions = versions;
    await controller.start();
    stops.unshift(() => controller.stop());
    await versions.publish();
    const clones = new ClonePreparer({
      kubeConfig,
      scope,
      nodeName,
      layout,
      storage,
      trash: controller.trash,
      versions: controller.versions,
      engineFor,
      log: agentLog,
      resyncSeconds: config.resyncSeconds,
    });
    await clones.start();
    stops.unshift(() => clones.stop());
    agentLog.info({ pool: layout.root, scope }, 'node agent started');
    return {
      nodeName,
      layout,
      controller,
      clones,
      async stop() {
        try {
          for (const stop of stops) await stop();
        } finally {
          await lock.release();
        }
      },
    };
  } catch (error) {
    for (const stop of stops) await Promise.resolve(stop()).catch(() => undefined);
    await lock.release().catch(() => undefined);
    throw error;
  }
}
