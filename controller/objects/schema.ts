/**
 * A database's schema as the controller records it (a template version's, at import) and reads it (a
 * live database's): what `myaas diff` compares. Engine-neutral: each engine's ServerAdmin.readSchema
 * fills it from its own catalog, normalised so that an unchanged server reads the same every time.
 *
 * Names: objects of PostgreSQL's `public` schema (and MariaDB's, which has only one) are unqualified;
 * objects of other schemas are `schema.name`.
 */

/**
 * The version of this layout: a snapshot written by a controller reading schemas another way would
 * not compare equal to today's reading of the same schema, so the diff refuses it instead.
 */
export const SCHEMA_FORMAT = 1;

export interface SchemaColumn {
  readonly name: string;
  /** As the engine spells it, with what else makes the column's kind (`int(11) auto_increment`). */
  readonly type: string;
  readonly nullable: boolean;
  /** The default's expression as the engine prints it; null when there is none (or it is NULL). */
  readonly default: string | null;
}

export interface SchemaTable {
  readonly name: string;
  /** In the table's order. */
  readonly columns: readonly SchemaColumn[];
}

/** An index, constraint indexes included (a primary key, a unique constraint): they are real indexes. */
export interface SchemaIndex {
  readonly table: string;
  readonly name: string;
  /** Key columns in order: a column name, with `(N)` for a prefix or ` desc`; or an expression. */
  readonly columns: readonly string[];
  readonly unique: boolean;
}

export interface SchemaView {
  readonly name: string;
  readonly definition: string;
}

export interface SchemaRoutine {
  /** PostgreSQL: with the argument types, `f(integer)`, as functions overload. */
  readonly name: string;
  /** `procedure`, `function`, `aggregate`, `window`. */
  readonly kind: string;
  /** Parameters, result and body: any of them changing is a change. */
  readonly definition: string;
}

export interface SchemaTrigger {
  readonly name: string;
  readonly table: string;
  /** `BEFORE`, `AFTER`, `INSTEAD OF`. */
  readonly timing: string;
  /** `INSERT`, `UPDATE`, `DELETE` (PostgreSQL: several joined by ` OR `, and `TRUNCATE`). */
  readonly event: string;
  readonly statement: string;
}

/** Every list sorted by name (indexes and triggers by table, then name): equal schemas are equal JSON. */
export interface SchemaSnapshot {
  readonly format: number;
  readonly tables: readonly SchemaTable[];
  readonly indexes: readonly SchemaIndex[];
  readonly views: readonly SchemaView[];
  readonly routines: readonly SchemaRoutine[];
  readonly triggers: readonly SchemaTrigger[];
}

export type SchemaObjectKind = 'table' | 'column' | 'index' | 'view' | 'routine' | 'trigger';

/** One difference between two snapshots. */
export interface SchemaChange {
  readonly kind: SchemaObjectKind;
  readonly change: 'added' | 'removed' | 'changed';
  /** `orders` (table, view, routine), `orders.created` (column), `orders.idx_created` (index, trigger). */
  readonly name: string;
  /**
   * Added or removed: what the object is (`text`, `null`); changed: what changed, each as
   * `what old -> new` (`type int -> bigint`).
   */
  readonly details?: readonly string[];
}

/** Orders strings by code point, the same everywhere (never the locale's collation). */
export function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** A schema with nothing in it. */
export function emptySchema(): SchemaSnapshot {
  return { format: SCHEMA_FORMAT, tables: [], indexes: [], views: [], routines: [], triggers: [] };
}

/**
 * A snapshot with every list in its canonical order: what the engines' readers return, so that a
 * snapshot read twice is equal JSON whatever order the catalog answered in.
 */
export function sortedSnapshot(snapshot: Omit<SchemaSnapshot, 'format'>): SchemaSnapshot {
  const byName = <T extends { name: string }>(items: readonly T[]) =>
    [...items].sort((a, b) => byCodePoint(a.name, b.name));
  const byTableThenName = <T extends { table: string; name: string }>(items: readonly T[]) =>
    [...items].sort((a, b) => byCodePoint(a.table, b.table) || byCodePoint(a.name, b.name));
  return {
    format: SCHEMA_FORMAT,
    tables: byName(snapshot.tables),
    indexes: byTableThenName(snapshot.indexes),
    views: byName(snapshot.views),
    routines: [...snapshot.routines].sort(
      (a, b) => byCodePoint(a.name, b.name) || byCodePoint(a.kind, b.kind),
    ),
    triggers: byTableThenName(snapshot.triggers),
  };
}
