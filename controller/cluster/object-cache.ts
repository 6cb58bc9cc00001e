import type { KubeConfig, KubernetesListObject, KubernetesObject } from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import { ResourceInformer } from '../source/kubernetes/resource-informer.js';

export interface ObjectCacheOptions {
  readonly kubeConfig: KubeConfig;
  /** The collection's list/watch path (/api/v1/nodes, /api/v1/namespaces/ns/pods, ...). */
  readonly path: string;
  readonly list: () => Promise<KubernetesListObject<KubernetesObject>>;
  readonly labelSelector?: string;
  readonly fieldSelector?: string;
  readonly log: Logger;
  /** Told of every object added, changed or removed. */
  readonly onChange?: (object: KubernetesObject) => void;
}

/**
 * A collection as last listed and watched (an informer's store): what reconciles read instead of asking
 * the API server each time. `trusted` says whether an absence in it can be believed: only after the
 * first list, and while list and watch work.
 */
export class ObjectCache<T extends KubernetesObject> {
  readonly #objects = new Map<string, T>();
  readonly #informer: ResourceInformer;

  constructor(options: ObjectCacheOptions) {
    this.#informer = new ResourceInformer({
      kubeConfig: options.kubeConfig,
      path: options.path,
      list: options.list,
      log: options.log,
      ...(options.labelSelector ? { labelSelector: options.labelSelector } : {}),
      ...(options.fieldSelector ? { fieldSelector: options.fieldSelector } : {}),
      onObject: (event, resource) => {
        const object = resource as unknown as T;
        const id = idOf(object.metadata?.namespace, object.metadata?.name);
        if (event === 'delete') this.#objects.delete(id);
        else this.#objects.set(id, object);
        options.onChange?.(object);
      },
    });
  }

  start(): Promise<void> {
    return this.#informer.start();
  }

  stop(): Promise<void> {
    return this.#informer.stop();
  }

  get trusted(): boolean {
    return this.#informer.synced && this.#informer.available;
  }

  get(namespace: string | undefined, name: string): T | undefined {
    return this.#objects.get(idOf(namespace, name));
  }

  list(): T[] {
    return [...this.#objects.values()];
  }
}

const idOf = (namespace: string | undefined, name: string | undefined) => `${namespace ?? ''}/${name ?? ''}`;
