import { CoordinationV1Api, type KubeConfig, type V1Lease, V1MicroTime } from '@kubernetes/client-node';
import type { Logger } from '../../log.js';
import { httpCode } from './kube-config.js';

export interface LeaderLeaseOptions {
  readonly kubeConfig: KubeConfig;
  readonly namespace: string;
  /** The Lease's name: one per controller deployment. @default myaas-controller */
  readonly name?: string;
  /** This candidate (host name and pid, or the Pod's name). */
  readonly identity: string;
  readonly log: Logger;
  /** How long a leader's claim holds without renewal. @default 15 */
  readonly leaseDurationSeconds?: number;
  /** A leader that could not renew for this long stops leading. @default 10 */
  readonly renewDeadlineSeconds?: number;
  /** Between two tries to acquire or renew. @default 2 */
  readonly retryPeriodSeconds?: number;
}

/**
 * Leader election on a coordination.k8s.io Lease, as client-go's leaderelection does it: a candidate
 * takes the Lease when it is free, released, or not renewed for leaseDurationSeconds (measured on this
 * candidate's own clock from when it last saw the Lease change, so clock skew between nodes does not
 * matter); every write is an update based on the Lease's resourceVersion, so of two racing candidates one
 * gets 409 Conflict and keeps waiting. A leader that cannot renew within renewDeadlineSeconds has lost.
 */
export class LeaderLease {
  readonly #api: CoordinationV1Api;
  readonly #options: LeaderLeaseOptions;
  readonly #name: string;
  readonly #log: Logger;
  /** The Lease's spec as last seen, and when (this process's clock). */
  #observed: { spec: string; at: number } | undefined;
  #leading = false;
  #stopped = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: LeaderLeaseOptions) {
    this.#options = options;
    this.#name = options.name ?? 'myaas-controller';
    this.#api = options.kubeConfig.makeApiClient(CoordinationV1Api);
    this.#log = options.log.child({ component: 'leader-lease', lease: `${options.namespace}/${this.#name}` });
  }

  get leading(): boolean {
    return this.#leading;
  }

  /** Resolves once this candidate leads; then renews until `stop`, calling `onLost` if it cannot. */
  async acquire(onLost: () => void): Promise<void> {
    const retryMs = (this.#options.retryPeriodSeconds ?? 2) * 1000;
    while (!this.#stopped && !(await this.#tryAcquireOrRenew()))
      await new Promise((resolve) => {
        this.#timer = setTimeout(resolve, retryMs);
      });
    if (this.#stopped) return;
    this.#log.info({ identity: this.#options.identity }, 'leading');
    let renewed = Date.now();
    const renew = async () => {
      if (this.#stopped) return;
      if (await this.#tryAcquireOrRenew()) renewed = Date.now();
      else if (Date.now() - renewed > (this.#options.renewDeadlineSeconds ?? 10) * 1000 || !this.#leading) {
        this.#leading = false;
        this.#log.error(
          'leadership lost: another candidate holds the Lease, or it could not be renewed in time',
        );
        onLost();
        return;
      }
      this.#timer = setTimeout(() => void renew(), retryMs);
    };
    this.#timer = setTimeout(() => void renew(), retryMs);
  }

  /**
   * Stops trying; a leader gives the Lease up at once (holderIdentity cleared) for the next candidate,
   * unless `release: false` (then the next waits for it to expire, as after a crash).
   */
  async stop(options: { release?: boolean } = {}): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    if (!this.#leading || options.release === false) return;
    this.#leading = false;
    try {
      const lease = await this.#read();
      if (lease?.spec?.holderIdentity !== this.#options.identity) return;
      await this.#api.replaceNamespacedLease({
        name: this.#name,
        namespace: this.#options.namespace,
        body: { ...lease, spec: { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1 } },
      });
    } catch (error) {
      this.#log.warn({ err: error }, 'Lease not released; the next candidate waits for it to expire');
    }
  }

  async #read(): Promise<V1Lease | undefined> {
    try {
      return await this.#api.readNamespacedLease({ name: this.#name, namespace: this.#options.namespace });
    } catch (error) {
      if (httpCode(error) === 404) return undefined;
      throw error;
    }
  }

  /** One try: true when this candidate holds the Lease afterwards. */
  async #tryAcquireOrRenew(): Promise<boolean> {
    const { identity, namespace } = this.#options;
    const duration = this.#options.leaseDurationSeconds ?? 15;
    const now = new V1MicroTime();
    try {
      const lease = await this.#read();
      if (!lease) {
        await this.#api.createNamespacedLease({
          namespace,
          body: {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: this.#name, namespace },
            spec: {
              holderIdentity: identity,
              leaseDurationSeconds: duration,
              acquireTime: now,
              renewTime: now,
              leaseTransitions: 0,
            },
          },
        });
        this.#leading = true;
        return true;
      }
      const spec = lease.spec ?? {};
      const seen = JSON.stringify(spec);
      if (this.#observed?.spec !== seen) this.#observed = { spec: seen, at: Date.now() };
      const holder = spec.holderIdentity ?? '';
      const expired = this.#observed.at + (spec.leaseDurationSeconds ?? duration) * 1000 < Date.now();
      if (holder !== '' && holder !== identity && !expired) {
        this.#leading = false;
        return false;
      }
      const taking = holder !== identity;
      const updated = await this.#api.replaceNamespacedLease({
        name: this.#name,
        namespace,
        body: {
          ...lease,
          spec: {
            ...spec,
            holderIdentity: identity,
            leaseDurationSeconds: duration,
            renewTime: now,
            ...(taking ? { acquireTime: now, leaseTransitions: (spec.leaseTransitions ?? 0) + 1 } : {}),
          },
        },
      });
      this.#observed = { spec: JSON.stringify(updated.spec ?? {}), at: Date.now() };
      this.#leading = true;
      return true;
    } catch (error) {
      // 409: another candidate wrote first (create or update); anything else: the API is away.
      if (httpCode(error) !== 409) this.#log.warn({ err: error }, 'Lease not acquired or renewed');
      return false;
    }
  }
}
