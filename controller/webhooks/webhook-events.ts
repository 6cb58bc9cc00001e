import { randomUUID } from 'node:crypto';
import type {
  DatabaseRecord,
  DatabaseStatus,
  ObjectEvent,
  ObjectKey,
  TemplateStatus,
} from '../objects/index.js';
import { parseKey } from '../objects/index.js';

/** What an endpoint may subscribe to; `*` in a webhooks file means all of them. */
export const WEBHOOK_EVENTS = [
  'database.ready',
  'database.expired',
  'database.stopped',
  'database.deleted',
  'database.restored',
  'template.imported',
  'template.import_failed',
  'deletion.held',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

/**
 * The object events (reason, as the reconcilers record them in status) that become webhooks. One
 * table: the reconcilers only record events, never know about webhooks.
 */
const BY_REASON: Readonly<Record<'Template' | 'Database', Readonly<Record<string, WebhookEventType>>>> = {
  Database: {
    Ready: 'database.ready',
    Expired: 'database.expired',
    // An idle Delete ends as an expiry does (phase Expired, data in the trash); the body's reason says why.
    IdleDeleted: 'database.expired',
    Stopped: 'database.stopped',
    Deleted: 'database.deleted',
    Restored: 'database.restored',
    DeletionHeld: 'deletion.held',
  },
  Template: {
    ImportSucceeded: 'template.imported',
    ImportFailed: 'template.import_failed',
    DeletionHeld: 'deletion.held',
  },
};

/** The webhook an object event is, if any. */
export function webhookTypeOf(key: ObjectKey, reason: string): WebhookEventType | undefined {
  return BY_REASON[parseKey(key).kind][reason];
}

/** One event to deliver: the same payload goes to every endpoint that wants it (each with its delivery id). */
export interface WebhookEvent {
  readonly id: string;
  readonly type: WebhookEventType;
  readonly key: ObjectKey;
  /** The body without `delivery`: frozen when the event happened (status changes later do not leak in). */
  readonly payload: Readonly<Record<string, unknown>>;
}

/** What the store holds of an object when it records an event (status and record of either kind). */
export interface EventSubject {
  readonly status: DatabaseStatus | TemplateStatus;
  readonly record: unknown;
}

/**
 * The webhook body of an object event: its type, the object (kind, name, key), its phase after the
 * event, its owner, the times that matter, and the template and version where there is one. Never a
 * password: connection info says where, not how to log in.
 */
export function webhookEventOf(
  key: ObjectKey,
  event: ObjectEvent,
  subject: EventSubject,
): WebhookEvent | undefined {
  const type = webhookTypeOf(key, event.reason);
  if (!type) return undefined;
  const { kind, name } = parseKey(key);
  const id = randomUUID();
  const common = {
    id,
    type,
    time: event.time,
    object: { kind, name, key },
    reason: event.reason,
    message: event.message,
  };
  if (kind === 'Database') {
    const status = subject.status as DatabaseStatus;
    const record = subject.record as Partial<DatabaseRecord> | undefined;
    const payload = {
      ...common,
      phase: type === 'database.deleted' ? 'Deleted' : status.phase,
      owner: record?.owner ?? null,
      template: status.template ?? record?.template ?? null,
      templateVersion: status.templateVersion ?? record?.templateVersion ?? null,
      engine: status.engine ?? record?.engine ?? null,
      times: definedOnly({
        event: event.time,
        created: status.createdAt,
        expires: status.expiresAt,
        expired: status.expiredAt,
        readySince: status.readySince,
      }),
      ...(type === 'database.ready' && status.connection ? { connection: status.connection } : {}),
      ...(status.branchedFrom ? { branchedFrom: status.branchedFrom.database } : {}),
      ...(type === 'database.restored' && status.restoredFrom
        ? { restoredFrom: status.restoredFrom.entry }
        : {}),
    };
    return { id, type, key, payload };
  }
  const status = subject.status as TemplateStatus;
  const last = status.lastImport;
  const payload = {
    ...common,
    phase: status.phase,
    owner: null,
    template: name,
    // The version this event is about: the one imported, or the one whose import failed.
    templateVersion:
      type === 'template.import_failed' ? (last?.version ?? null) : (status.currentVersion ?? null),
    currentVersion: status.currentVersion ?? null,
    times: definedOnly({
      event: event.time,
      created: status.createdAt,
      importStarted: last?.startedAt,
      importFinished: last?.finishedAt,
    }),
    ...(last && type !== 'deletion.held'
      ? {
          import: definedOnly({
            result: last.result,
            durationSeconds: last.durationSeconds,
            bytes: last.bytes,
            error: last.error,
            errorLine: last.errorLine,
            errorFile: last.errorFile,
          }),
        }
      : {}),
  };
  return { id, type, key, payload };
}

function definedOnly(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, v]) => v !== undefined));
}
