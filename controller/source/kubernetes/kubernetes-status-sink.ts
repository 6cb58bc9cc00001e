import {
  CoreV1Api,
  CustomObjectsApi,
  type KubeConfig,
  PatchStrategy,
  type V1Secret,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Logger } from '../../log.js';
import type { DatabaseRecord, DatabaseStatus, ObjectKey } from '../../objects/index.js';
import type { StatusSink } from '../../state/status-sink.js';
import type { StoredObject } from '../../state/status-store.js';
import { credentialsSecret, credentialsSecretName, ownedBy } from './credentials-secret.js';
import { GROUP, PLURALS, VERSION } from './custom-resources.js';
import { httpCode } from './kube-config.js';
import type { ResourceLocation } from './kubernetes-desired-state.js';
import { statusDocument } from './status-document.js';

export interface KubernetesStatusSinkOptions {
  readonly kubeConfig: KubeConfig;
  /** The resource behind a key (the Kubernetes desired state's `locate`). */
  readonly locate: (key: ObjectKey) => ResourceLocation | undefined;
  readonly log: Logger;
}

/**
 * Publishes each object's status through its resource's status subresource (one JSON patch that
 * replaces `.status`: what the controller says is the whole status), and each database's credentials
 * as a Secret owned by its resource. Writes only what changed since the last successful write.
 */
export class KubernetesStatusSink implements StatusSink {
  readonly #objects: CustomObjectsApi;
  readonly #core: CoreV1Api;
  readonly #options: KubernetesStatusSinkOptions;
  readonly #log: Logger;
  /** What was last written, per resource uid: a status or Secret equal to it is not written again. */
  readonly #written = new Map<string, string>();

  constructor(options: KubernetesStatusSinkOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'kubernetes-status' });
    this.#objects = options.kubeConfig.makeApiClient(CustomObjectsApi);
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
  }

  async publish(key: ObjectKey, stored: StoredObject): Promise<void> {
    const location = this.#options.locate(key);
    if (!location) return; // no resource (any more): nothing to write on
    await this.#writeStatus(location, statusDocument(location.kind, stored.status));
    if (location.kind === 'Database') {
      const secret = credentialsSecret(
        location,
        stored.status as DatabaseStatus,
        stored.record as DatabaseRecord,
      );
      if (secret) await this.#writeSecret(location, secret);
    }
  }

  async #writeStatus(location: ResourceLocation, status: Record<string, unknown>): Promise<void> {
    const id = `status:${location.uid}`;
    const text = JSON.stringify(status);
    if (this.#written.get(id) === text) return;
    try {
      await this.#objects.patchNamespacedCustomObjectStatus(
        {
          group: GROUP,
          version: VERSION,
          namespace: location.namespace,
          plural: PLURALS[location.kind],
          name: location.name,
          body: [{ op: 'add', path: '/status', value: status }],
        },
        setHeaderOptions('Content-Type', PatchStrategy.JsonPatch),
      );
      this.#written.set(id, text);
    } catch (error) {
      if (httpCode(error) === 404) return; // deleted meanwhile: its informer event follows
      throw error;
    }
  }

  async #writeSecret(location: ResourceLocation, secret: V1Secret): Promise<void> {
    const id = `secret:${location.uid}`;
    const text = JSON.stringify(secret);
    if (this.#written.get(id) === text) return;
    const { namespace } = location;
    const name = credentialsSecretName(location.name);
    try {
      await this.#core.createNamespacedSecret({ namespace, body: secret });
    } catch (error) {
      if (httpCode(error) !== 409) throw error;
      const existing = await this.#core.readNamespacedSecret({ name, namespace });
      if (!ownedBy(existing, location)) {
        this.#log.error(
          { namespace, secret: name, database: location.name },
          'a Secret of that name exists and is not this database’s: its credentials are not published; rename or remove that Secret',
        );
        return;
      }
      // Based on what was read: a 409 here (changed meanwhile) is tried again by the forwarder.
      await this.#core.replaceNamespacedSecret({
        name,
        namespace,
        body: {
          ...secret,
          metadata: { ...secret.metadata, resourceVersion: existing.metadata?.resourceVersion },
        },
      });
    }
    this.#written.set(id, text);
  }
}
