import type { DatabaseRecord, DatabaseSpec, DatabaseStatus } from './database.js';
import type { Kind } from './meta.js';
import type { TemplateObject, TemplateRecord, TemplateStatus, VersionMeta } from './template.js';

/**
 * Why an object went to the trash. `SpecRemoved`: its spec left the specs dir (a spec file that comes
 * back within the retention restores it); `Deleted`: a user deleted it by name (API, CLI: a new
 * create makes a fresh one, this stays restorable by id); `Expired`; `Reset`: the data a reset replaced.
 */
export type TrashReason = 'SpecRemoved' | 'Deleted' | 'Expired' | 'IdleDeleted' | 'Reset';

interface TrashEntryBase<K extends Kind> {
  readonly kind: K;
  /** `<name>@<stamp>` */
  readonly id: string;
  readonly name: string;
  readonly reason: TrashReason;
  /** Epoch ms. */
  readonly trashedAt: number;
  /** Epoch ms after which the entry (and its data) is removed for good. */
  readonly expiresAt: number;
}

/** A removed database: its clone (stopped cleanly first), credentials and spec, restorable as it was. */
export interface TrashedDatabase extends TrashEntryBase<'Database'> {
  readonly record: DatabaseRecord;
  readonly status: DatabaseStatus;
  readonly spec?: DatabaseSpec;
  /** The spec file it was declared in, when it came from one. */
  readonly specFile?: string;
}

/** A removed template: its versions (data and metadata), so a spec that comes back needs no reimport. */
export interface TrashedTemplate extends TrashEntryBase<'Template'> {
  readonly versions: VersionMeta[];
  readonly status?: TemplateStatus;
  readonly record?: TemplateRecord;
  readonly spec?: TemplateObject['spec'];
}

export type TrashEntry = TrashedDatabase | TrashedTemplate;
