/** What every object has: its kind, its key, its metadata, and the annotations the controller reads. */

export const API_VERSION = 'myaas.dev/v1alpha1';
export const KINDS = ['Template', 'Database'] as const;
export type Kind = (typeof KINDS)[number];

/** `Kind/name`, the key every reconcile, status file and error is addressed by. */
export type KeyOf<K extends Kind> = `${K}/${string}`;
export type ObjectKey = KeyOf<Kind>;

export const ENGINES = ['mariadb', 'mysql', 'postgres'] as const;
export type EngineName = (typeof ENGINES)[number];

/** Annotation whose value change asks for a Database reset (fresh clone, same name, port, credentials). */
export const RESET_ANNOTATION = 'myaas.dev/reset';
/** Annotation whose value change asks for a Template reimport (like touching its spec file). */
export const REIMPORT_ANNOTATION = 'myaas.dev/reimport';
/** Set by the original API's POST on an expired name: a new value makes a fresh database. */
export const INCARNATION_ANNOTATION = 'myaas.dev/incarnation';
/** Who owns a database: set by the API to the caller who made it; in spec files, the operator's to set. */
export const OWNER_ANNOTATION = 'myaas.dev/owner';
/** On implicit templates: the dump's own name (`test_db`), which the original API knew it by. */
export const SEED_NAME_ANNOTATION = 'myaas.dev/seed-name';

export interface ObjectMeta {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export function keyOf(object: { kind: Kind; metadata: { name: string } }): ObjectKey {
  return `${object.kind}/${object.metadata.name}`;
}

export function parseKey(key: string): { kind: Kind; name: string } {
  const slash = key.indexOf('/');
  const kind = key.slice(0, slash) as Kind;
  if (slash < 0 || !KINDS.includes(kind)) throw new Error(`Expected a key Kind/name, got \`${key}\``);
  return { kind, name: key.slice(slash + 1) };
}
