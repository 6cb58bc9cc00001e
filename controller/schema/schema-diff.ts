import {
  type SchemaChange,
  type SchemaColumn,
  type SchemaIndex,
  type SchemaObjectKind,
  type SchemaRoutine,
  type SchemaSnapshot,
  type SchemaTrigger,
  byCodePoint,
} from '../objects/index.js';

/** The order changes are listed in: containers before what they contain, then by name. */
const KIND_ORDER: readonly SchemaObjectKind[] = ['table', 'column', 'index', 'view', 'routine', 'trigger'];

/**
 * What changed from `base` (a template version's schema) to `current` (a database's now). An added
 * or removed table is one change: its columns, indexes and triggers are not listed again. A column is
 * compared by type, nullability and default; its position is not a change.
 */
export function diffSchemas(base: SchemaSnapshot, current: SchemaSnapshot): SchemaChange[] {
  const changes: SchemaChange[] = [];
  const baseTables = new Map(base.tables.map((t) => [t.name, t]));
  const currentTables = new Map(current.tables.map((t) => [t.name, t]));
  // Tables that exist on both sides: only their parts are compared one by one.
  const onBoth = (table: string) => baseTables.has(table) && currentTables.has(table);

  for (const name of union(baseTables, currentTables)) {
    const before = baseTables.get(name);
    const after = currentTables.get(name);
    if (!before) changes.push({ kind: 'table', change: 'added', name });
    else if (!after) changes.push({ kind: 'table', change: 'removed', name });
    else
      changes.push(
        ...compare(
          'column',
          keyed(before.columns, (c) => c.name),
          keyed(after.columns, (c) => c.name),
          (c) => `${name}.${c.name}`,
          describeColumn,
          columnChanges,
        ),
      );
  }
  // An index or a trigger goes with its table: those of a table added or removed are not listed.
  const ofTablesOnBoth = <T extends { table: string }>(items: readonly T[], key: (item: T) => string) =>
    keyed(
      items.filter((i) => onBoth(i.table)),
      key,
    );
  changes.push(
    ...compare(
      'index',
      ofTablesOnBoth(base.indexes, indexKey),
      ofTablesOnBoth(current.indexes, indexKey),
      indexKey,
      describeIndex,
      indexChanges,
    ),
    ...compare(
      'view',
      keyed(base.views, nameOf),
      keyed(current.views, nameOf),
      nameOf,
      () => [],
      definitionChanges,
    ),
    ...compare(
      'routine',
      keyed(base.routines, routineKey),
      keyed(current.routines, routineKey),
      nameOf,
      (r) => [r.kind],
      definitionChanges,
    ),
    ...compare(
      'trigger',
      ofTablesOnBoth(base.triggers, triggerKey),
      ofTablesOnBoth(current.triggers, triggerKey),
      triggerKey,
      (t) => [`${t.timing} ${t.event}`],
      triggerChanges,
    ),
  );
  return changes.sort(
    (a, b) => KIND_ORDER.indexOf(a.kind) - KIND_ORDER.indexOf(b.kind) || byCodePoint(a.name, b.name),
  );
}

/** Lists what is only in `before` (removed), only in `after` (added), or differs (changed). */
function compare<T>(
  kind: SchemaObjectKind,
  before: Map<string, T>,
  after: Map<string, T>,
  nameOf: (item: T) => string,
  describe: (item: T) => string[],
  differences: (before: T, after: T) => string[],
): SchemaChange[] {
  const changes: SchemaChange[] = [];
  for (const key of union(before, after)) {
    const b = before.get(key);
    const a = after.get(key);
    if (b && a) {
      const details = differences(b, a);
      if (details.length > 0) changes.push({ kind, change: 'changed', name: nameOf(a), details });
    } else {
      const item = (a ?? b)!;
      const details = describe(item);
      changes.push({
        kind,
        change: a ? 'added' : 'removed',
        name: nameOf(item),
        ...(details.length > 0 ? { details } : {}),
      });
    }
  }
  return changes;
}

function describeColumn(c: SchemaColumn): string[] {
  return [c.type, c.nullable ? 'null' : 'not null', ...(c.default !== null ? [`default ${c.default}`] : [])];
}

function columnChanges(b: SchemaColumn, a: SchemaColumn): string[] {
  const out: string[] = [];
  if (b.type !== a.type) out.push(`type ${b.type} -> ${a.type}`);
  if (b.nullable !== a.nullable) out.push(a.nullable ? 'not null -> null' : 'null -> not null');
  if (b.default !== a.default) out.push(`default ${b.default ?? 'none'} -> ${a.default ?? 'none'}`);
  return out;
}

function describeIndex(i: SchemaIndex): string[] {
  return [...(i.unique ? ['unique'] : []), `on ${i.columns.join(', ')}`];
}

function indexChanges(b: SchemaIndex, a: SchemaIndex): string[] {
  const out: string[] = [];
  if (b.columns.join(', ') !== a.columns.join(', '))
    out.push(`columns ${b.columns.join(', ')} -> ${a.columns.join(', ')}`);
  if (b.unique !== a.unique) out.push(a.unique ? 'not unique -> unique' : 'unique -> not unique');
  return out;
}

/** Views and routines: what they are is their definition. */
function definitionChanges(b: { definition: string }, a: { definition: string }): string[] {
  return b.definition !== a.definition ? ['definition changed'] : [];
}

function triggerChanges(b: SchemaTrigger, a: SchemaTrigger): string[] {
  const out: string[] = [];
  if (b.timing !== a.timing) out.push(`timing ${b.timing} -> ${a.timing}`);
  if (b.event !== a.event) out.push(`event ${b.event} -> ${a.event}`);
  if (b.statement !== a.statement) out.push('statement changed');
  return out;
}

const nameOf = (item: { name: string }) => item.name;
const indexKey = (i: SchemaIndex) => `${i.table}.${i.name}`;
const triggerKey = (t: SchemaTrigger) => `${t.table}.${t.name}`;
// MariaDB lets a procedure and a function share a name: they are two routines.
const routineKey = (r: SchemaRoutine) => `${r.name}\0${r.kind}`;

function keyed<T>(items: readonly T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]));
}

function union(a: Map<string, unknown>, b: Map<string, unknown>): string[] {
  return [...new Set([...a.keys(), ...b.keys()])].sort(byCodePoint);
}
