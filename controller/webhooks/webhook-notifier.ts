import { randomUUID } from 'node:crypto';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { ObjectEvent, ObjectKey } from '../objects/index.js';
import type { BackoffOptions } from './backoff.js';
import { type Delivery, type DeliveryOutcome, DeliveryQueue, type Transport } from './delivery-queue.js';
import { type EventSubject, webhookEventOf } from './webhook-events.js';
import type { WebhookEndpoint } from './webhooks-file.js';

/** Where object events are recorded and heard: the status store (the one place every reconciler records them). */
export interface ObjectEvents {
  subscribeEvents(listener: (key: ObjectKey, event: ObjectEvent, subject: EventSubject) => void): () => void;
  event(key: ObjectKey, type: ObjectEvent['type'], reason: string, message: string): Promise<void>;
}

export interface WebhookNotifierOptions {
  readonly endpoints: readonly WebhookEndpoint[];
  readonly events: ObjectEvents;
  readonly transport: Transport;
  readonly log: Logger;
  readonly metrics?: Metrics;
  readonly backoff?: BackoffOptions;
  readonly userAgent?: string;
}

/** Reasons of the events this records itself: never turned into webhooks (nor looped back). */
export const DELIVERED_REASON = 'WebhookDelivered';
export const FAILED_REASON = 'WebhookFailed';

/**
 * Turns the object events the reconcilers record into signed webhook deliveries, one queue per
 * endpoint; records each delivery's outcome as a log line, an event on the object (while it exists)
 * and metrics. Hearing an event only queues it: a reconcile never waits for a receiver.
 */
export class WebhookNotifier {
  readonly #options: WebhookNotifierOptions;
  readonly #log: Logger;
  readonly #queues: DeliveryQueue[];
  #off: (() => void) | undefined;

  constructor(options: WebhookNotifierOptions) {
    this.#options = options;
    this.#log = options.log.child({ component: 'webhooks' });
    this.#queues = options.endpoints.map(
      (endpoint) =>
        new DeliveryQueue({
          endpoint,
          transport: options.transport,
          log: this.#log,
          ...(options.backoff ? { backoff: options.backoff } : {}),
          ...(options.userAgent ? { userAgent: options.userAgent } : {}),
          onOutcome: (delivery, outcome) => this.#outcome(endpoint, delivery, outcome),
          onRetry: (delivery, failed, error, waitMs) => {
            options.metrics?.webhookRetries.inc({ endpoint: endpoint.name });
            this.#log.info(
              {
                endpoint: endpoint.name,
                key: delivery.key,
                event: delivery.type,
                delivery: delivery.id,
                attempt: failed,
                waitMs,
              },
              `webhook ${delivery.type} to ${endpoint.name}: ${error}; retrying in ${waitMs} ms`,
            );
            this.#gauge(endpoint);
          },
        }),
    );
  }

  start(): void {
    this.#off = this.#options.events.subscribeEvents((key, event, subject) =>
      this.#heard(key, event, subject),
    );
    for (const { endpoint } of this.#queues)
      this.#log.info(
        { endpoint: endpoint.name, events: [...endpoint.events] },
        `webhooks to ${endpoint.name} on`,
      );
  }

  /** Deliveries waiting or under way, all endpoints (tests, the bench). */
  get pending(): number {
    return this.#queues.reduce((n, q) => n + q.size, 0);
  }

  /** Resolves when every queue is empty. */
  async onIdle(): Promise<void> {
    await Promise.all(this.#queues.map((q) => q.onIdle()));
  }

  /** Stops hearing events and sending; what is left undelivered is said (deliveries live in memory only). */
  stop(): void {
    this.#off?.();
    this.#off = undefined;
    for (const queue of this.#queues) {
      const left = queue.stop();
      if (left > 0)
        this.#log.warn(
          { endpoint: queue.endpoint.name, undelivered: left },
          `controller stopping: ${left} webhook deliveries to ${queue.endpoint.name} are dropped`,
        );
    }
  }

  #heard(key: ObjectKey, event: ObjectEvent, subject: EventSubject): void {
    try {
      const webhook = webhookEventOf(key, event, subject);
      if (!webhook) return;
      for (const queue of this.#queues) {
        if (!queue.endpoint.events.has(webhook.type)) continue;
        const id = randomUUID();
        const delivery: Delivery = {
          id,
          type: webhook.type,
          key,
          body: JSON.stringify({ ...webhook.payload, delivery: id }),
        };
        queue.push(delivery);
        this.#gauge(queue.endpoint);
      }
    } catch (error) {
      // Whatever goes wrong here must not reach the reconcile that recorded the event.
      this.#log.error({ key, reason: event.reason, err: error }, 'webhook not queued');
    }
  }

  #outcome(endpoint: WebhookEndpoint, delivery: Delivery, outcome: DeliveryOutcome): void {
    const { metrics, events } = this.#options;
    const fields = {
      endpoint: endpoint.name,
      key: delivery.key,
      event: delivery.type,
      delivery: delivery.id,
      attempts: outcome.attempts,
    };
    if (outcome.result === 'delivered') {
      metrics?.webhookDelivered.inc({ endpoint: endpoint.name });
      const message = `webhook ${delivery.type} delivered to ${endpoint.name} (HTTP ${outcome.status}, attempt ${outcome.attempts})`;
      this.#log.info({ ...fields, status: outcome.status }, message);
      void events.event(delivery.key, 'Normal', DELIVERED_REASON, message).catch(() => undefined);
    } else {
      metrics?.webhookFailed.inc({ endpoint: endpoint.name });
      const message = `webhook ${delivery.type} to ${endpoint.name} (${endpoint.url}) not delivered: ${outcome.error}`;
      this.#log.warn(fields, message);
      void events.event(delivery.key, 'Warning', FAILED_REASON, message).catch(() => undefined);
    }
    this.#gauge(endpoint);
  }

  #gauge(endpoint: WebhookEndpoint): void {
    const queue = this.#queues.find((q) => q.endpoint === endpoint);
    this.#options.metrics?.webhookQueued.set({ endpoint: endpoint.name }, queue?.size ?? 0);
  }
}
