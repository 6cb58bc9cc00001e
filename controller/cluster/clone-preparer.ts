import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  type KubernetesListObject,
  type KubernetesObject,
  PatchStrategy,
  type V1Pod,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Engine } from '../engine/engine.js';
import type { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import type { EngineName, TrashReason } from '../objects/index.js';
import { type ReconcileResult, WorkQueue } from '../reconcile/work-queue.js';
import { DATABASE_LABEL } from '../source/kubernetes/credentials-secret.js';
import {
  GROUP,
  type NamespaceScope,
  PLURALS,
  VERSION,
  collectionPath,
} from '../source/kubernetes/custom-resources.js';
import {
  CLONE_READY_FILE,
  TEMPLATE_LABEL,
  TEMPLATE_VERSION_LABEL,
} from '../source/kubernetes/database-pod.js';
import type { Storage } from '../storage/storage.js';
import type { TemplateVersions } from '../templates/template-versions.js';
import type { Trash } from '../trash/trash.js';
import { writeFileAtomic } from '../util/files.js';
import { DATABASE_SERVER_SELECTOR } from './database-servers.js';
import { ObjectCache } from './object-cache.js';
import { contentKey } from './template-labels.js';

export interface ClonePreparerOptions {
  readonly kubeConfig: KubeConfig;
  readonly scope: NamespaceScope;
  readonly nodeName: string;
  readonly layout: Layout;
  readonly storage: Storage;
  readonly trash: Trash;
  readonly versions: TemplateVersions;
  readonly engineFor: (name: EngineName) => Engine;
  readonly log: Logger;
  /** Full look at every Pod, Database and clone. @default 30 */
  readonly resyncSeconds?: number;
}

/** The finalizer an agent puts on a Database while its node holds the database's clone. */
export function cloneFinalizer(nodeName: string): string {
  const name = /^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/.test(nodeName)
    ? nodeName
    : `n-${createHash('sha256').update(nodeName).digest('hex').slice(0, 20)}`;
  return `clone.myaas.dev/${name}`;
}

/** A Database resource as this agent reads it: identity, deletion, finalizers and status phase only. */
interface DatabaseResource extends KubernetesObject {
  status?: { phase?: string };
}

/**
 * The node agent's clones: for each database Pod bound to this node it makes the clone of the
 * template version the Pod names (before the server may start: the marker, written last, names the
 * Database's uid, which the Pod's init container waits for), and once no Pod of it is left and its
 * Database is deleted or expired, moves the clone into this node's trash. Only the agent of the node
 * a Pod is bound to ever sees that Pod (a field selector on spec.nodeName), and a Pod is bound once:
 * two agents never prepare the same clone. A Database holds this node's finalizer while a clone of it
 * exists here, so deleting the resource waits until its data is in the trash.
 */
export class ClonePreparer {
  readonly #o: ClonePreparerOptions;
  readonly #log: Logger;
  readonly #pods: ObjectCache<V1Pod>;
  readonly #databases: ObjectCache<DatabaseResource>;
  readonly #objects: CustomObjectsApi;
  readonly #queue: WorkQueue<string>;
  readonly #finalizer: string;
  #resync: NodeJS.Timeout | undefined;

  constructor(options: ClonePreparerOptions) {
    this.#o = options;
    this.#log = options.log.child({ component: 'clones', node: options.nodeName });
    this.#finalizer = cloneFinalizer(options.nodeName);
    const { kubeConfig, scope } = options;
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.#objects = kubeConfig.makeApiClient(CustomObjectsApi);
    const fieldSelector = `spec.nodeName=${options.nodeName}`;
    const labelSelector = DATABASE_SERVER_SELECTOR;
    const list = <T>(call: Promise<T>) => call as unknown as Promise<KubernetesListObject<KubernetesObject>>;
    this.#pods = new ObjectCache<V1Pod>({
      kubeConfig,
      path: scope.all ? '/api/v1/pods' : `/api/v1/namespaces/${scope.namespace}/pods`,
      labelSelector,
      fieldSelector,
      list: () =>
        list(
          scope.all
            ? core.listPodForAllNamespaces({ labelSelector, fieldSelector })
            : core.listNamespacedPod({ namespace: scope.namespace, labelSelector, fieldSelector }),
        ),
      log: this.#log,
      onChange: (pod) => this.#enqueue(pod.metadata?.labels?.[DATABASE_LABEL]),
    });
    this.#databases = new ObjectCache<DatabaseResource>({
      kubeConfig,
      path: collectionPath('Database', scope),
      list: () =>
        list(
          scope.all
            ? this.#objects.listClusterCustomObject({
                group: GROUP,
                version: VERSION,
                plural: PLURALS.Database,
              })
            : this.#objects.listNamespacedCustomObject({
                group: GROUP,
                version: VERSION,
                namespace: scope.namespace,
                plural: PLURALS.Database,
              }),
        ),
      log: this.#log,
      onChange: (db) => this.#enqueue(db.metadata?.name),
    });
    this.#queue = new WorkQueue<string>({
      log: this.#log,
      concurrency: 2,
      reconcile: (name, log) => this.#reconcile(name, log),
    });
  }

  async start(): Promise<void> {
    await Promise.all([this.#pods.start(), this.#databases.start()]);
    await this.#all();
    this.#resync = setInterval(() => void this.#all(), (this.#o.resyncSeconds ?? 30) * 1000);
    this.#resync.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#resync);
    await this.#queue.stop();
    await Promise.all([this.#pods.stop(), this.#databases.stop()]);
  }

  #enqueue(name: string | undefined): void {
    if (name) this.#queue.add(name);
  }

  async #all(): Promise<void> {
    for (const pod of this.#pods.list()) this.#enqueue(pod.metadata?.labels?.[DATABASE_LABEL]);
    for (const db of this.#databases.list()) this.#enqueue(db.metadata?.name);
    const dirs = await readdir(this.#o.layout.clonesDir).catch(() => [] as string[]);
    for (const dir of dirs) this.#enqueue(dir);
  }

  async #reconcile(name: string, log: Logger): Promise<ReconcileResult> {
    // Nothing is decided on caches that are not whole: a missing Pod or Database means nothing then.
    if (!this.#pods.trusted || !this.#databases.trusted) return { requeueAfterMs: 1000 };
    const { layout, storage } = this.#o;
    const dir = layout.cloneDir(name);
    const pod = this.#pods.list().find((p) => p.metadata?.labels?.[DATABASE_LABEL] === name);
    const db = this.#databases
      .list()
      .find((d) => d.metadata?.name === name && (!pod || d.metadata?.namespace === pod.metadata?.namespace));
    const marker = await readMarker(dir);
    const live = db && !db.metadata?.deletionTimestamp && db.status?.phase !== 'Expired';
    const uid = db?.metadata?.uid;
    if (pod && !pod.metadata?.deletionTimestamp && live && ownedBy(pod, uid!)) {
      if (marker === uid) return undefined; // ready: made for this Database before (a restarted Pod)
      if (await storage.exists(dir)) {
        // An earlier Database's clone of the same name (into the trash), or one this agent left half made.
        if (marker) await this.#toTrash(name, dir, 'Deleted', log, 'an earlier Database of the same name');
        else await storage.remove(dir);
      }
      const template = pod.metadata?.labels?.[TEMPLATE_LABEL] ?? '';
      const key = pod.metadata?.labels?.[TEMPLATE_VERSION_LABEL] ?? '';
      const version = (await this.#o.versions.list(template)).find((v) => contentKey(v) === key);
      if (!version) {
        log.warn(
          { template, key },
          'this node does not hold that template version (any more): the Pod waits',
        );
        return { requeueAfterMs: 5000 };
      }
      // Before the clone exists: a deletion of the resource then always waits for its data to be trashed.
      await this.#addFinalizer(db!);
      const started = Date.now();
      const method = await storage.clone(layout.versionDir(template, version.version), dir);
      await this.#o.engineFor(version.engine).admin.prepareClone(dir);
      await writeFileAtomic(path.join(dir, CLONE_READY_FILE), uid!, 0o644);
      log.info({ template, version: version.version, key, method, ms: Date.now() - started }, 'clone ready');
      return undefined;
    }
    if (pod) return undefined; // its server may still run (the Pod is stopping): trashed once it is gone
    const exists = await storage.exists(dir);
    if (exists) {
      // Stopped, or between two Pods: kept.
      if (live && marker === uid) return undefined;
      const reason: TrashReason =
        db && db.status?.phase === 'Expired' && !db.metadata?.deletionTimestamp ? 'Expired' : 'Deleted';
      await this.#toTrash(name, dir, reason, log, db ? reason.toLowerCase() : 'its Database is gone');
    }
    if (db?.metadata?.deletionTimestamp || (db && !live)) await this.#removeFinalizer(db);
    return undefined;
  }

  async #toTrash(name: string, dir: string, reason: TrashReason, log: Logger, why: string): Promise<void> {
    const now = new Date().toISOString();
    await this.#o.trash.putDatabase(
      {
        name,
        reason,
        record: {
          template: '',
          user: { user: '', password: '' },
          adminPassword: '',
          configured: true,
          resetToken: '',
          protected: false,
          node: this.#o.nodeName,
        },
        status: {
          phase: reason === 'Expired' ? 'Expired' : 'Stopped',
          message: `trashed on node ${this.#o.nodeName}: ${why}`,
          expiredAt: now,
          conditions: [],
        },
      },
      dir,
    );
    log.info({ reason, why }, 'clone moved into the node’s trash');
  }

  async #addFinalizer(db: DatabaseResource): Promise<void> {
    const finalizers = db.metadata?.finalizers ?? [];
    if (finalizers.includes(this.#finalizer)) return;
    await this.#patch(db, [
      { op: 'test', path: '/metadata/resourceVersion', value: db.metadata?.resourceVersion },
      finalizers.length === 0
        ? { op: 'add', path: '/metadata/finalizers', value: [this.#finalizer] }
        : { op: 'add', path: '/metadata/finalizers/-', value: this.#finalizer },
    ]);
  }

  async #removeFinalizer(db: DatabaseResource): Promise<void> {
    const index = (db.metadata?.finalizers ?? []).indexOf(this.#finalizer);
    if (index < 0) return;
    await this.#patch(db, [
      { op: 'test', path: `/metadata/finalizers/${index}`, value: this.#finalizer },
      { op: 'remove', path: `/metadata/finalizers/${index}` },
    ]);
  }

  async #patch(db: DatabaseResource, body: object[]): Promise<void> {
    await this.#objects.patchNamespacedCustomObject(
      {
        group: GROUP,
        version: VERSION,
        namespace: db.metadata?.namespace ?? '',
        plural: PLURALS.Database,
        name: db.metadata?.name ?? '',
        body,
      },
      setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
    );
  }
}

function ownedBy(pod: V1Pod, uid: string): boolean {
  return (pod.metadata?.ownerReferences ?? []).some((ref) => ref.uid === uid);
}

/** The clone's marker: the Database uid it was made for; undefined when there is none (yet). */
async function readMarker(dir: string): Promise<string | undefined> {
  try {
    return (await readFile(path.join(dir, CLONE_READY_FILE), 'utf8')).trim();
  } catch (error) {
    if (
      (error as NodeJS.ErrnoException).code === 'ENOENT' ||
      (error as NodeJS.ErrnoException).code === 'ENOTDIR'
    )
      return undefined;
    throw error;
  }
}
