import {
  CoreV1Api,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  type V1Node,
  type V1Pod,
  type V1Service,
} from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { DATABASE_LABEL, MANAGED_BY_LABEL } from '../source/kubernetes/credentials-secret.js';
import type { NamespaceScope } from '../source/kubernetes/custom-resources.js';
import { httpCode } from '../source/kubernetes/kube-config.js';
import { ObjectCache } from './object-cache.js';

/** What selects the Pods and Services myaas makes for databases. */
export const DATABASE_SERVER_SELECTOR = `${MANAGED_BY_LABEL}=myaas,app.kubernetes.io/name=myaas-database`;

/**
 * The cluster as the database-Pod reconciler sees it (the seam it talks to): Nodes (what template
 * versions they hold), database Pods and Services (cached from informers), and the writes it makes.
 */
export interface DatabaseServers {
  /** False before the first lists and while list or watch fail: an absence means nothing then. */
  readonly trusted: boolean;
  nodes(): readonly V1Node[];
  pod(namespace: string, name: string): V1Pod | undefined;
  service(namespace: string, name: string): V1Service | undefined;
  /** The Pods and Services of database `name`, wherever they are. */
  ofDatabase(name: string): { pods: V1Pod[]; services: V1Service[] };
  /** Creates; an object of that name already there is fine (the cache catches up). */
  createPod(pod: V1Pod): Promise<void>;
  createService(service: V1Service): Promise<void>;
  /** Deletes that object (by uid: never a newer one of the same name); a missing one is fine. */
  deletePod(namespace: string, name: string, uid: string): Promise<void>;
  deleteService(namespace: string, name: string, uid: string): Promise<void>;
  /** Told the database name whenever one of its Pods or Services changes, and `undefined` for a Node. */
  subscribe(listener: (database: string | undefined) => void): () => void;
}

const list = <T>(call: Promise<T>) => call as unknown as Promise<KubernetesListObject<KubernetesObject>>;

export class KubernetesDatabaseServers implements DatabaseServers {
  readonly #core: CoreV1Api;
  readonly #nodes: ObjectCache<V1Node>;
  readonly #pods: ObjectCache<V1Pod>;
  readonly #services: ObjectCache<V1Service>;
  readonly #listeners = new Set<(database: string | undefined) => void>();

  constructor(options: { kubeConfig: KubeConfig; scope: NamespaceScope; log: Logger }) {
    const { kubeConfig, scope } = options;
    const log = options.log.child({ component: 'database-servers' });
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    const labelSelector = DATABASE_SERVER_SELECTOR;
    const base = scope.all ? '/api/v1' : `/api/v1/namespaces/${scope.namespace}`;
    const tell = (object: KubernetesObject) => {
      const database = object.kind === 'Node' ? undefined : object.metadata?.labels?.[DATABASE_LABEL];
      for (const listener of this.#listeners) listener(database);
    };
    this.#nodes = new ObjectCache<V1Node>({
      kubeConfig,
      path: '/api/v1/nodes',
      list: () => list(this.#core.listNode()),
      log,
      onChange: (o) => tell({ ...o, kind: 'Node' }),
    });
    this.#pods = new ObjectCache<V1Pod>({
      kubeConfig,
      path: `${base}/pods`,
      labelSelector,
      list: () =>
        list(
          scope.all
            ? this.#core.listPodForAllNamespaces({ labelSelector })
            : this.#core.listNamespacedPod({ namespace: scope.namespace, labelSelector }),
        ),
      log,
      onChange: tell,
    });
    this.#services = new ObjectCache<V1Service>({
      kubeConfig,
      path: `${base}/services`,
      labelSelector,
      list: () =>
        list(
          scope.all
            ? this.#core.listServiceForAllNamespaces({ labelSelector })
            : this.#core.listNamespacedService({ namespace: scope.namespace, labelSelector }),
        ),
      log,
      onChange: tell,
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.#nodes.start(), this.#pods.start(), this.#services.start()]);
  }

  async stop(): Promise<void> {
    await Promise.all([this.#nodes.stop(), this.#pods.stop(), this.#services.stop()]);
  }

  get trusted(): boolean {
    return this.#nodes.trusted && this.#pods.trusted && this.#services.trusted;
  }

  nodes(): readonly V1Node[] {
    return this.#nodes.list();
  }

  pod(namespace: string, name: string): V1Pod | undefined {
    return this.#pods.get(namespace, name);
  }

  service(namespace: string, name: string): V1Service | undefined {
    return this.#services.get(namespace, name);
  }

  ofDatabase(name: string): { pods: V1Pod[]; services: V1Service[] } {
    const mine = (o: KubernetesObject) => o.metadata?.labels?.[DATABASE_LABEL] === name;
    return { pods: this.#pods.list().filter(mine), services: this.#services.list().filter(mine) };
  }

  async createPod(pod: V1Pod): Promise<void> {
    await ignore(409, this.#core.createNamespacedPod({ namespace: pod.metadata!.namespace!, body: pod }));
  }

  async createService(service: V1Service): Promise<void> {
    await ignore(
      409,
      this.#core.createNamespacedService({ namespace: service.metadata!.namespace!, body: service }),
    );
  }

  async deletePod(namespace: string, name: string, uid: string): Promise<void> {
    await ignore(
      404,
      this.#core.deleteNamespacedPod({ namespace, name, body: { preconditions: { uid } } }),
      409,
    );
  }

  async deleteService(namespace: string, name: string, uid: string): Promise<void> {
    await ignore(
      404,
      this.#core.deleteNamespacedService({ namespace, name, body: { preconditions: { uid } } }),
      409,
    );
  }

  subscribe(listener: (database: string | undefined) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Awaits a call, taking the given HTTP codes as success (409 on delete: a newer object of that name). */
async function ignore(code: number, call: Promise<unknown>, also?: number): Promise<void> {
  try {
    await call;
  } catch (error) {
    const status = httpCode(error);
    if (status !== code && status !== also) throw error;
  }
}
