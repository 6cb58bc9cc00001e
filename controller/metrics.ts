import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** Prometheus metrics of one controller (prom-client): what an operator graphs and alerts on. */
export class Metrics {
  readonly registry = new Registry();
  readonly reconciles = new Counter({
    name: 'myaas_reconciles_total',
    help: 'Reconciles by kind and result',
    labelNames: ['kind', 'result'] as const,
    registers: [this.registry],
  });
  readonly reconcileSeconds = new Histogram({
    name: 'myaas_reconcile_duration_seconds',
    help: 'Reconcile duration by kind',
    labelNames: ['kind'] as const,
    buckets: [0.005, 0.02, 0.1, 0.5, 1, 2, 5, 15, 60],
    registers: [this.registry],
  });
  readonly cloneToReadySeconds = new Histogram({
    name: 'myaas_clone_to_ready_seconds',
    help: 'From the start of a clone (or server start) to the first successful query',
    buckets: [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 10, 30],
    registers: [this.registry],
  });
  readonly importSeconds = new Histogram({
    name: 'myaas_import_duration_seconds',
    help: 'Template import duration by result',
    labelNames: ['result'] as const,
    buckets: [1, 5, 15, 60, 300, 900, 3600, 14400],
    registers: [this.registry],
  });
  readonly importBytes = new Counter({
    name: 'myaas_import_bytes_total',
    help: 'Dump bytes read by imports',
    registers: [this.registry],
  });
  readonly databasesByPhase = new Gauge({
    name: 'myaas_databases',
    help: 'Databases by phase',
    labelNames: ['phase'] as const,
    registers: [this.registry],
  });
  readonly templatesByPhase = new Gauge({
    name: 'myaas_templates',
    help: 'Templates by phase',
    labelNames: ['phase'] as const,
    registers: [this.registry],
  });
  readonly specProblems = new Gauge({
    name: 'myaas_spec_problems',
    help: 'Problems in spec files (held files, conflicts, unavailable specs dir)',
    registers: [this.registry],
  });

  readonly clockSteps = new Counter({
    name: 'myaas_clock_steps_total',
    help: 'Wall-clock steps seen (expiry waited a resync pass after each)',
    registers: [this.registry],
  });
  readonly trashRemovals = new Counter({
    name: 'myaas_trash_removed_total',
    help: 'Trash entries removed for good (retention ended, or space was short)',
    registers: [this.registry],
  });

  readonly webhookDelivered = new Counter({
    name: 'myaas_webhook_delivered_total',
    help: 'Webhook deliveries a receiver accepted (2xx), by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly webhookFailed = new Counter({
    name: 'myaas_webhook_failed_total',
    help: 'Webhook deliveries given up (retry window over, a 4xx answer, queue full), by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly webhookRetries = new Counter({
    name: 'myaas_webhook_retries_total',
    help: 'Failed webhook attempts that were retried, by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });
  readonly webhookQueued = new Gauge({
    name: 'myaas_webhook_queued',
    help: 'Webhook deliveries waiting or under way, by endpoint',
    labelNames: ['endpoint'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'myaas_process_' });
  }
}
