import type { SpecProblem } from '../spec/problems.js';
import type { DatabaseObject } from './database.js';
import type { Kind, ObjectKey } from './meta.js';
import type { TemplateObject } from './template.js';

export type SpecObject = TemplateObject | DatabaseObject;
export type ObjectOfKind<K extends Kind> = Extract<SpecObject, { kind: K }>;

/** The desired state of one object, and where it was declared. */
export interface DeclaredSpec<O extends SpecObject = SpecObject> {
  readonly key: ObjectKey;
  readonly object: O;
  /** Path relative to the specs dir (or the dumps dir, for implicit templates). */
  readonly file: string;
  readonly line: number;
  /** mtime of the file when this spec was last read good: a touch moves it even when content is equal. */
  readonly fileMtimeMs: number;
  readonly digest: string;
  /** Starts at 1, grows by one each time the content (digest) changes. */
  readonly generation: number;
}

/**
 * What the reconcilers read: the desired state, and whether absence can be trusted. Sources: the
 * spec folder (SpecFolder), the dumps folder's implicit templates, and their combination.
 */
export interface DesiredState {
  get<K extends Kind>(key: `${K}/${string}`): DeclaredSpec<ObjectOfKind<K>> | undefined;
  list<K extends Kind>(kind: K): DeclaredSpec<ObjectOfKind<K>>[];
  list(): DeclaredSpec[];
  /** True once the first full scan finished: before it, no object counts as absent. */
  readonly synced: boolean;
  /** False while the source is missing or unreadable: nothing counts as absent then either. */
  readonly available: boolean;
  /**
   * Whether the absence of `key` means it is not wanted (its removal may begin): never before the first
   * scan nor while its source is unavailable; a source may distrust more (a file with problems whose
   * objects are unknown; the dumps dir, for templates, while it is missing or looks unmounted).
   */
  absenceTrusted(key: ObjectKey): boolean;
  problems(): SpecProblem[];
  /** Called with the keys whose desired state may have changed. Returns an unsubscribe function. */
  subscribe(listener: (keys: ObjectKey[]) => void): () => void;
}
