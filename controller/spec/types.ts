/** The spec model: the two kinds a spec file may declare, as the controller sees them after validation. */

export const API_VERSION = 'myaas.dev/v1alpha1';
export const KINDS = ['Template', 'Database'] as const;
export type Kind = (typeof KINDS)[number];

/** `Kind/name`, the key every reconcile, status file and error is addressed by. */
export type ObjectKey = `${Kind}/${string}`;

export const ENGINES = ['mariadb', 'mysql', 'postgres'] as const;
export type EngineName = (typeof ENGINES)[number];

/** Annotation whose value change asks for a Database reset (fresh clone, same name, port, credentials). */
export const RESET_ANNOTATION = 'myaas.dev/reset';
/** Annotation whose value change asks for a Template reimport (like touching its spec file). */
export const REIMPORT_ANNOTATION = 'myaas.dev/reimport';

export interface ObjectMeta {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>>;
}

export interface TemplateSpec {
  readonly engine: EngineName;
  /** Absent means the controller's default image. */
  readonly image?: string;
  readonly source: { readonly path: string };
  /** Absent means the controller's default schema name. */
  readonly database?: string;
  readonly import: { readonly timeoutSeconds?: number };
}

export type DatabaseState = 'Running' | 'Stopped';

export interface DatabaseSpec {
  readonly template: string;
  readonly ttlSeconds?: number;
  /** Epoch milliseconds. */
  readonly expiresAt?: number;
  readonly state: DatabaseState;
  readonly port?: number;
  readonly protected: boolean;
}

interface ObjectBase<K extends Kind, S> {
  readonly kind: K;
  readonly metadata: ObjectMeta;
  readonly spec: S;
}

export type TemplateObject = ObjectBase<'Template', TemplateSpec>;
export type DatabaseObject = ObjectBase<'Database', DatabaseSpec>;
export type SpecObject = TemplateObject | DatabaseObject;

export function keyOf(object: { kind: Kind; metadata: { name: string } }): ObjectKey {
  return `${object.kind}/${object.metadata.name}`;
}

export function parseKey(key: string): { kind: Kind; name: string } {
  const slash = key.indexOf('/');
  const kind = key.slice(0, slash) as Kind;
  if (slash < 0 || !KINDS.includes(kind)) throw new Error(`Expected a key Kind/name, got \`${key}\``);
  return { kind, name: key.slice(slash + 1) };
}
