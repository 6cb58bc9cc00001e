import { misfit } from './node-affinity.js';
import type { Obj, ObjectStore } from './object-store.js';
import type { Resource } from './resources.js';
import { ApiError, conflict } from './status.js';

/**
 * A stand-in for kube-scheduler: binds each Pod without spec.nodeName to a node it fits (node selector
 * and required node affinity), the one with the fewest Pods (then by name), as the real one binds
 * through the pods/binding subresource. A Pod that fits no node gets PodScheduled=False,
 * Unschedulable, and is tried again whenever a Node changes.
 */
export class StandInScheduler {
  readonly #store: ObjectStore;
  readonly #pods: Resource;
  readonly #nodes: Resource;
  #scheduled = false;
  readonly #off: () => void;

  constructor(store: ObjectStore, pods: Resource, nodes: Resource) {
    this.#store = store;
    this.#pods = pods;
    this.#nodes = nodes;
    this.#off = store.subscribe((event) => {
      if (event.resource === nodes || (event.resource === pods && event.type !== 'DELETED')) this.#schedule();
    });
  }

  stop(): void {
    this.#off();
  }

  /** Binds a Pod to a node (POST pods/NAME/binding): 409 when it is already bound. */
  bind(namespace: string, name: string, node: string): Obj {
    const pod = this.#store.get(this.#pods, namespace, name) as Obj & { spec?: { nodeName?: string } };
    if (pod.spec?.nodeName)
      throw new ApiError({
        ...conflict(this.#pods, name).status,
        message: `Operation cannot be fulfilled on pods/binding "${name}": pod ${name} is already assigned to node "${pod.spec.nodeName}"`,
      });
    const bound = this.#store.update(this.#pods, namespace, name, {
      ...pod,
      spec: { ...(pod.spec ?? {}), nodeName: node },
    });
    return this.#setScheduled(bound, 'True', '', '');
  }

  #setScheduled(pod: Obj, status: 'True' | 'False', reason: string, message: string): Obj {
    const current = (pod.status ?? {}) as {
      conditions?: { type: string; status: string; reason?: string; message?: string }[];
    };
    const others = (current.conditions ?? []).filter((c) => c.type !== 'PodScheduled');
    const condition = {
      type: 'PodScheduled',
      status,
      ...(reason ? { reason, message } : {}),
      lastTransitionTime: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    };
    const old = (current.conditions ?? []).find((c) => c.type === 'PodScheduled');
    if (old && old.status === status && old.message === (message || undefined)) return pod;
    return this.#store.update(
      this.#pods,
      pod.metadata.namespace,
      pod.metadata.name,
      { ...pod, status: { phase: 'Pending', ...current, conditions: [...others, condition] } },
      'status',
    );
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#runOnce();
    });
  }

  #runOnce(): void {
    const nodes = this.#store.list(this.#nodes);
    const pods = this.#store.list(this.#pods) as (Obj & { spec?: { nodeName?: string } })[];
    const podsOn = new Map<string, number>();
    for (const pod of pods)
      if (pod.spec?.nodeName) podsOn.set(pod.spec.nodeName, (podsOn.get(pod.spec.nodeName) ?? 0) + 1);
    for (const pod of pods) {
      if (pod.spec?.nodeName || pod.metadata.deletionTimestamp) continue;
      const reasons = new Map<string, number>();
      const fits = nodes.filter((node) => {
        const why = misfit(pod as never, node as never);
        if (why) reasons.set(why, (reasons.get(why) ?? 0) + 1);
        return !why;
      });
      try {
        if (fits.length === 0) {
          const detail = [...reasons].map(([why, n]) => `${n} ${why}`).join(', ');
          this.#setScheduled(
            pod,
            'False',
            'Unschedulable',
            `0/${nodes.length} nodes are available${detail ? `: ${detail}` : ''}.`,
          );
          continue;
        }
        fits.sort(
          (a, b) =>
            (podsOn.get(a.metadata.name) ?? 0) - (podsOn.get(b.metadata.name) ?? 0) ||
            a.metadata.name.localeCompare(b.metadata.name),
        );
        const node = fits[0]!.metadata.name;
        this.bind(pod.metadata.namespace!, pod.metadata.name, node);
        podsOn.set(node, (podsOn.get(node) ?? 0) + 1);
      } catch (error) {
        // The Pod changed or went in the meantime: the event that says so schedules another pass.
        if (!(error instanceof ApiError)) throw error;
      }
    }
  }
}
