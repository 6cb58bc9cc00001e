import type { V1Pod } from '@kubernetes/client-node';
import type { ControllerConfig } from '../config.js';
import { defaultImage } from '../engine/defaults.js';
import type { Engine } from '../engine/engine.js';
import type { Logger } from '../log.js';
import { setCondition } from '../objects/conditions.js';
import {
  type DatabaseObject,
  type DatabaseRecord,
  type DatabaseStatus,
  type DesiredState,
  type EngineName,
  type ObjectKey,
  type TemplateStatus,
  expiryOf,
  parseKey,
} from '../objects/index.js';
import { type ReconcileResult, WorkQueue } from '../reconcile/work-queue.js';
import { databasePod, databaseService, podNameOf, serviceNameOf } from '../source/kubernetes/database-pod.js';
import type { ResourceLocation } from '../source/kubernetes/kubernetes-desired-state.js';
import type { StatusStore } from '../state/status-store.js';
import { newSecret } from '../util/files.js';
import { templateAdminPassword } from './cluster-key.js';
import type { DatabaseServers } from './database-servers.js';
import { currentKey, nodesHolding } from './template-labels.js';

/** The Kubernetes desired state: a DesiredState that also says where each resource lives. */
export interface LocatingDesiredState extends DesiredState {
  locate(key: ObjectKey): ResourceLocation | undefined;
}

export interface DatabasePodsDeps {
  readonly config: ControllerConfig;
  readonly desired: LocatingDesiredState;
  readonly store: StatusStore;
  readonly servers: DatabaseServers;
  readonly engineFor: (name: EngineName) => Engine;
  readonly clusterKey: string;
  /** The node pools' clones folder (the same path on every node): the database Pods' hostPath. */
  readonly poolClonesDir: string;
  readonly log: Logger;
  readonly now?: () => number;
}

/**
 * `--runtime kubernetes`: each Database becomes a Pod of the official image, placed by kube-scheduler
 * on a node whose agent holds the template's version ready, and a Service; the agent on the chosen
 * node makes the clone. This reconciler never touches a disk: it writes Pods and Services, logs in to
 * the server once it is Ready to give it the database's own accounts, and keeps status (which the
 * status sink publishes, credentials into the database's Secret). Templates are imported by the agents;
 * a Template's status here says which nodes hold which version.
 */
export class DatabasePods {
  readonly #deps: DatabasePodsDeps;
  readonly #log: Logger;
  readonly #queue: WorkQueue<ObjectKey>;
  readonly #now: () => number;
  #off: (() => void)[] = [];
  #resync: NodeJS.Timeout | undefined;

  constructor(deps: DatabasePodsDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ component: 'database-pods' });
    this.#now = deps.now ?? Date.now;
    this.#queue = new WorkQueue<ObjectKey>({
      log: this.#log,
      concurrency: deps.config.reconcileConcurrency,
      reconcile: (key, log) => {
        const { kind, name } = parseKey(key);
        return kind === 'Template' ? this.#template(name) : this.#database(name, log);
      },
    });
  }

  start(): void {
    const { desired, servers } = this.#deps;
    this.#off.push(desired.subscribe((keys) => keys.forEach((k) => this.#queue.add(k))));
    this.#off.push(
      servers.subscribe((database) => {
        if (database) this.#queue.add(`Database/${database}`);
        else this.#all();
      }),
    );
    this.#all();
    this.#resync = setInterval(() => this.#all(), this.#deps.config.resyncSeconds * 1000);
    this.#resync.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#resync);
    for (const off of this.#off) off();
    this.#off = [];
    await this.#queue.stop();
  }

  /** Every declared object and every one with a status: lost events and removals are found here. */
  #all(): void {
    const keys = new Set<ObjectKey>(this.#deps.desired.list().map((d) => d.key));
    for (const key of this.#deps.store.keys('Database')) keys.add(key);
    for (const key of this.#deps.store.keys('Template')) keys.add(key);
    for (const key of keys) this.#queue.add(key);
  }

  async #template(name: string): Promise<ReconcileResult> {
    const key = `Template/${name}` as const;
    const { desired, store, servers } = this.#deps;
    const declared = desired.get(key);
    if (!declared) {
      if (desired.absenceTrusted(key) && store.get(key)) await store.delete(key);
      return undefined;
    }
    if (!servers.trusted) return undefined;
    const nodes = servers.nodes();
    const current = currentKey(nodes, name);
    const holding = current ? nodesHolding(nodes, name, current) : [];
    const old = store.get(key);
    const { currentVersion: _previous, ...kept } = old?.status ?? { versions: [], conditions: [] };
    const status: TemplateStatus = {
      ...kept,
      phase: current ? 'Ready' : 'Pending',
      message: current
        ? `version ${current} ready on ${holding.length} node(s): ${holding.join(', ')}`
        : 'no node agent holds a ready version yet (agents import it on the nodes its nodeSelector selects)',
      observedGeneration: declared.generation,
      versions: current ? [current] : [],
      ...(current ? { currentVersion: current } : {}),
      conditions: setCondition(
        old?.status.conditions ?? [],
        'Ready',
        current ? 'True' : 'False',
        current ? 'VersionReady' : 'NoNodeReady',
        current ? `ready on ${holding.join(', ')}` : 'no node holds a ready version',
      ),
    };
    await store.save(key, status, old?.record ?? {});
    return undefined;
  }

  async #database(name: string, log: Logger): Promise<ReconcileResult> {
    const key = `Database/${name}` as const;
    const { desired, store, servers } = this.#deps;
    const declared = desired.get(key);
    const location = desired.locate(key);
    if (!declared || !location) {
      // Gone, or being deleted: its server goes (the agent then moves the clone into its trash).
      if (!desired.absenceTrusted(key) || !servers.trusted) return undefined;
      await this.#removeServers(name, log, 'the Database resource is gone or being deleted');
      if (store.get(key)) await store.delete(key);
      return undefined;
    }
    if (!servers.trusted) return { requeueAfterMs: 1000 };
    const stored = store.get(key);
    const record: DatabaseRecord = stored?.record ?? this.#newRecord(declared.object);
    const status: DatabaseStatus = stored?.status ?? { phase: 'Pending', conditions: [] };
    status.observedGeneration = declared.generation;
    const save = () => store.save(key, status, record);
    const spec = declared.object.spec;
    if (spec.source) {
      return this.#fail(
        status,
        save,
        'branches (spec.source) are not available with --runtime kubernetes yet',
      );
    }
    const template = desired.get(`Template/${spec.template ?? ''}`);
    if (!template) {
      status.phase = 'Pending';
      status.message = `template ${spec.template} is not declared`;
      await save();
      return undefined;
    }
    const engine = this.#deps.engineFor(template.object.spec.engine);
    status.template = template.object.metadata.name;
    status.engine = engine.name;

    // Expired: the server goes; the agent moves the clone into its trash once the Pod is gone.
    if (record.expired && record.expired.digest === declared.digest) return undefined;
    const expiresAt = expiryOf(spec, record);
    if (expiresAt !== undefined && expiresAt <= this.#now()) {
      if (spec.protected) {
        status.message = 'expired, but protected: kept until spec.protected is false';
      } else {
        await this.#removeServers(name, log, 'expired');
        record.expired = { at: this.#now(), digest: declared.digest };
        status.phase = 'Expired';
        status.expiredAt = new Date(this.#now()).toISOString();
        status.message = 'expired: its clone goes into the node’s trash';
        status.connection = undefined;
        status.conditions = setCondition(status.conditions, 'Ready', 'False', 'Expired', 'expired');
        await save();
        return undefined;
      }
    }
    if (spec.state === 'Stopped') {
      for (const pod of servers.ofDatabase(name).pods)
        await servers.deletePod(location.namespace, pod.metadata!.name!, pod.metadata!.uid!);
      status.phase = 'Stopped';
      status.message = 'stopped: the clone stays on its node';
      status.conditions = setCondition(
        status.conditions,
        'Ready',
        'False',
        'Stopped',
        'spec.state is Stopped',
      );
      await save();
      return undefined;
    }

    const nodes = servers.nodes();
    record.templateVersion ??= currentKey(nodes, template.object.metadata.name);
    if (!record.templateVersion) {
      status.phase = 'Pending';
      status.message = `no node holds a ready version of template ${template.object.metadata.name} yet`;
      await save();
      return undefined;
    }
    status.templateVersion = record.templateVersion;
    const serviceName = serviceNameOf(name);
    if (!servers.service(location.namespace, serviceName))
      await servers.createService(databaseService(location, engine.image));
    let pod = servers.pod(location.namespace, podNameOf(name));
    // A Pod left by an earlier Database of the same name: it goes, this one gets its own.
    if (pod && !ownedBy(pod, location.uid)) {
      await servers.deletePod(location.namespace, pod.metadata!.name!, pod.metadata!.uid!);
      pod = undefined;
      return { requeueAfterMs: 500 };
    }
    if (!pod) {
      record.createdAt ??= this.#now();
      await servers.createPod(
        databasePod({
          location,
          template: template.object.metadata.name,
          templateVersion: record.templateVersion,
          image: template.object.spec.image ?? defaultImage(this.#deps.config, engine.name),
          serverImage: engine.image,
          poolDatabasesDir: this.#deps.poolClonesDir,
          ...(record.node ? { node: record.node } : {}),
          ...((spec.memoryMiB ?? this.#deps.config.databaseMemoryMiB)
            ? { memoryMiB: spec.memoryMiB ?? this.#deps.config.databaseMemoryMiB }
            : {}),
        }),
      );
      status.phase = 'Pending';
      status.message = 'waiting for kube-scheduler to place the server';
      status.createdAt ??= new Date(record.createdAt).toISOString();
      await save();
      log.info({ version: record.templateVersion, node: record.node }, 'database Pod created');
      return this.#expiryRequeue(spec, record);
    }
    const node = pod.spec?.nodeName;
    if (!node) {
      const scheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled');
      status.phase = 'Pending';
      status.message = scheduled?.message
        ? `not placed yet: ${scheduled.message}`
        : 'waiting for kube-scheduler to place the server';
      await save();
      return undefined;
    }
    // Pinned from now on: its clone exists (or is being made) on this node only.
    record.node = node;
    const podIP = pod.status?.podIP;
    if (!podIP || !isReady(pod)) {
      status.phase = 'Starting';
      status.message = `on node ${node}: waiting for its agent's clone and the server`;
      await save();
      return undefined;
    }
    if (pod.metadata?.deletionTimestamp) return undefined;
    const endpoint = { host: podIP, port: engine.image.port };
    const admin = { user: engine.admin.user, password: record.adminPassword };
    const deadline = this.#now() + this.#deps.config.readyTimeoutSeconds * 1000;
    const alive = async () =>
      servers.pod(location.namespace, podNameOf(name))?.metadata?.uid === pod.metadata?.uid;
    if (!record.configured) {
      const templateAdmin = {
        user: engine.admin.user,
        password: templateAdminPassword(this.#deps.clusterKey, template.object.metadata.name),
      };
      await engine.admin.waitReady(endpoint, templateAdmin, deadline, alive).catch(async (error) => {
        // A crash after the accounts were set: the database's own admin works.
        if (!engine.admin.isAccessDenied(error)) throw error;
        await engine.admin.waitReady(endpoint, admin, deadline, alive);
      });
      await engine.admin.configureClone(endpoint, [templateAdmin], admin, record.user);
      record.configured = true;
      await save();
    } else {
      await engine.admin.waitReady(endpoint, admin, deadline, alive);
    }
    const database = template.object.spec.database ?? this.#deps.config.defaultDatabase;
    record.database = database;
    if (status.phase !== 'Ready') {
      status.readySince = new Date(this.#now()).toISOString();
      log.info({ node, pod: pod.metadata?.name }, 'database Ready');
    }
    status.phase = 'Ready';
    status.message = `serving on node ${node}`;
    status.connection = {
      host: `${serviceNameOf(name)}.${location.namespace}.svc`,
      port: engine.image.port,
      user: record.user.user,
      database,
    };
    status.server = { running: true };
    status.conditions = setCondition(status.conditions, 'Ready', 'True', 'ServerReady', `on node ${node}`);
    await save();
    return this.#expiryRequeue(spec, record);
  }

  #expiryRequeue(spec: DatabaseObject['spec'], record: DatabaseRecord): ReconcileResult {
    const at = expiryOf(spec, record);
    return at === undefined ? undefined : { requeueAfterMs: Math.max(0, at - this.#now()) + 50 };
  }

  async #fail(status: DatabaseStatus, save: () => Promise<void>, message: string): Promise<ReconcileResult> {
    status.phase = 'Failed';
    status.message = message;
    await save();
    return undefined;
  }

  /** Deletes the database's Pods and Services (by uid); the Secret goes with the resource. */
  async #removeServers(name: string, log: Logger, why: string): Promise<void> {
    const { servers } = this.#deps;
    const { pods, services } = servers.ofDatabase(name);
    for (const pod of pods) {
      if (pod.metadata?.deletionTimestamp) continue;
      await servers.deletePod(pod.metadata!.namespace!, pod.metadata!.name!, pod.metadata!.uid!);
      log.info({ pod: pod.metadata?.name, why }, 'database Pod deleted');
    }
    for (const service of services)
      await servers.deleteService(
        service.metadata!.namespace!,
        service.metadata!.name!,
        service.metadata!.uid!,
      );
  }

  #newRecord(db: DatabaseObject): DatabaseRecord {
    return {
      template: db.spec.template ?? '',
      user: { user: this.#deps.config.databaseUser, password: newSecret() },
      adminPassword: newSecret(),
      configured: false,
      resetToken: '',
      protected: db.spec.protected,
    };
  }
}

function ownedBy(pod: V1Pod, uid: string): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((ref) => ref.uid === uid);
}

function isReady(pod: V1Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}
