import { describe, expect, it } from 'vitest';
import { type SchemaSnapshot, type SchemaTable, sortedSnapshot } from '../../../controller/objects/index.js';
import { diffSchemas } from '../../../controller/schema/schema-diff.js';

const col = (name: string, type = 'int(11)', nullable = false, dflt: string | null = null) => ({
  name,
  type,
  nullable,
  default: dflt,
});

function shop(change: (s: Mutable) => void = () => undefined): SchemaSnapshot {
  const s: Mutable = {
    tables: [
      {
        name: 'orders',
        columns: [col('id'), col('created', 'date', true), col('total', 'int(11)', false, '0')],
      },
      { name: 'users', columns: [col('id'), col('email', 'varchar(100)')] },
    ],
    indexes: [
      { table: 'orders', name: 'PRIMARY', columns: ['id'], unique: true },
      { table: 'orders', name: 'idx_created', columns: ['created'], unique: false },
      { table: 'users', name: 'PRIMARY', columns: ['id'], unique: true },
    ],
    views: [{ name: 'recent', definition: 'select id from orders' }],
    routines: [{ name: 'count_orders', kind: 'procedure', definition: '(OUT n int) BEGIN ... END' }],
    triggers: [
      { name: 'orders_ai', table: 'orders', timing: 'AFTER', event: 'INSERT', statement: 'SET @n = 1' },
    ],
  };
  change(s);
  return sortedSnapshot(s);
}

interface Mutable {
  tables: { name: string; columns: SchemaTable['columns'] }[];
  indexes: { table: string; name: string; columns: string[]; unique: boolean }[];
  views: { name: string; definition: string }[];
  routines: { name: string; kind: string; definition: string }[];
  triggers: { name: string; table: string; timing: string; event: string; statement: string }[];
}

const table = (s: Mutable, name: string) => s.tables.find((t) => t.name === name)!;

describe('diffSchemas', () => {
  it('finds nothing between a schema and itself, in whatever order it was read', () => {
    const reversed = shop((s) => {
      s.tables.reverse();
      s.indexes.reverse();
    });
    expect(diffSchemas(shop(), reversed)).toEqual([]);
  });

  it('lists an added column, a dropped index and a new table, and nothing else', () => {
    const current = shop((s) => {
      table(s, 'orders').columns = [...table(s, 'orders').columns, col('note', 'text', true)];
      s.indexes = s.indexes.filter((i) => i.name !== 'idx_created');
      s.tables.push({ name: 'audit_log', columns: [col('id'), col('what', 'text', true)] });
      s.indexes.push({ table: 'audit_log', name: 'PRIMARY', columns: ['id'], unique: true });
    });
    expect(diffSchemas(shop(), current)).toEqual([
      { kind: 'table', change: 'added', name: 'audit_log' },
      { kind: 'column', change: 'added', name: 'orders.note', details: ['text', 'null'] },
      { kind: 'index', change: 'removed', name: 'orders.idx_created', details: ['on created'] },
    ]);
  });

  it('a dropped table is one change: not also its columns, indexes or triggers', () => {
    const current = shop((s) => {
      s.tables = s.tables.filter((t) => t.name !== 'orders');
      s.indexes = s.indexes.filter((i) => i.table !== 'orders');
      s.triggers = [];
    });
    expect(diffSchemas(shop(), current)).toEqual([{ kind: 'table', change: 'removed', name: 'orders' }]);
  });

  it('an added table with a trigger is one change too', () => {
    const current = shop((s) => {
      s.tables.push({ name: 'log', columns: [col('id')] });
      s.triggers.push({ name: 'log_bi', table: 'log', timing: 'BEFORE', event: 'INSERT', statement: 'x' });
    });
    expect(diffSchemas(shop(), current)).toEqual([{ kind: 'table', change: 'added', name: 'log' }]);
  });

  it('says how a column changed: type, null and default, each old -> new; its position is no change', () => {
    const current = shop((s) => {
      table(s, 'users').columns = [col('email', 'varchar(255)'), col('id')];
      table(s, 'orders').columns = [
        col('id'),
        col('created', 'date', false, 'curdate()'),
        col('total', 'int(11)', true),
      ];
    });
    expect(diffSchemas(shop(), current)).toEqual([
      {
        kind: 'column',
        change: 'changed',
        name: 'orders.created',
        details: ['null -> not null', 'default none -> curdate()'],
      },
      {
        kind: 'column',
        change: 'changed',
        name: 'orders.total',
        details: ['not null -> null', 'default 0 -> none'],
      },
      {
        kind: 'column',
        change: 'changed',
        name: 'users.email',
        details: ['type varchar(100) -> varchar(255)'],
      },
    ]);
  });

  it('a removed column is described as it was', () => {
    const current = shop((s) => {
      table(s, 'orders').columns = table(s, 'orders').columns.filter((c) => c.name !== 'total');
    });
    expect(diffSchemas(shop(), current)).toEqual([
      {
        kind: 'column',
        change: 'removed',
        name: 'orders.total',
        details: ['int(11)', 'not null', 'default 0'],
      },
    ]);
  });

  it('indexes: added unique, changed columns and uniqueness', () => {
    const current = shop((s) => {
      s.indexes = s.indexes.map((i) =>
        i.name === 'idx_created' ? { ...i, columns: ['created', 'id'], unique: true } : i,
      );
      s.indexes.push({ table: 'users', name: 'uq_email', columns: ['email'], unique: true });
    });
    expect(diffSchemas(shop(), current)).toEqual([
      {
        kind: 'index',
        change: 'changed',
        name: 'orders.idx_created',
        details: ['columns created -> created, id', 'not unique -> unique'],
      },
      { kind: 'index', change: 'added', name: 'users.uq_email', details: ['unique', 'on email'] },
    ]);
  });

  it('views, routines and triggers: added, removed, changed', () => {
    const current = shop((s) => {
      s.views = [
        { name: 'recent', definition: 'select id, created from orders' },
        { name: 'v2', definition: 'x' },
      ];
      s.routines = [{ name: 'count_orders', kind: 'function', definition: '() RETURNS int' }];
      s.triggers = [
        { name: 'orders_ai', table: 'orders', timing: 'BEFORE', event: 'UPDATE', statement: 'SET @n = 2' },
      ];
    });
    expect(diffSchemas(shop(), current)).toEqual([
      { kind: 'view', change: 'changed', name: 'recent', details: ['definition changed'] },
      { kind: 'view', change: 'added', name: 'v2' },
      // A procedure that became a function (MariaDB keeps both kinds under one name): two routines.
      { kind: 'routine', change: 'added', name: 'count_orders', details: ['function'] },
      { kind: 'routine', change: 'removed', name: 'count_orders', details: ['procedure'] },
      {
        kind: 'trigger',
        change: 'changed',
        name: 'orders.orders_ai',
        details: ['timing AFTER -> BEFORE', 'event INSERT -> UPDATE', 'statement changed'],
      },
    ]);
  });

  it('a routine whose body changed is one change', () => {
    const current = shop((s) => {
      s.routines = [{ ...s.routines[0]!, definition: '(OUT n int) BEGIN other END' }];
    });
    expect(diffSchemas(shop(), current)).toEqual([
      { kind: 'routine', change: 'changed', name: 'count_orders', details: ['definition changed'] },
    ]);
  });
});

describe('sortedSnapshot', () => {
  it('orders every list by name (indexes and triggers by table first) by code point', () => {
    const s = sortedSnapshot({
      tables: [
        { name: 'b', columns: [] },
        { name: 'B', columns: [] },
        { name: 'a', columns: [] },
      ],
      indexes: [
        { table: 'b', name: 'a', columns: [], unique: false },
        { table: 'a', name: 'z', columns: [], unique: false },
      ],
      views: [],
      routines: [],
      triggers: [],
    });
    expect(s.tables.map((t) => t.name)).toEqual(['B', 'a', 'b']);
    expect(s.indexes.map((i) => `${i.table}.${i.name}`)).toEqual(['a.z', 'b.a']);
    expect(s.format).toBe(1);
  });
});
