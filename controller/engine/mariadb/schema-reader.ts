import type mysql from 'mysql2/promise';
import {
  type SchemaColumn,
  type SchemaIndex,
  type SchemaRoutine,
  type SchemaSnapshot,
  sortedSnapshot,
} from '../../objects/index.js';

/** A catalog query that hangs (a metadata lock held by a client) fails instead of holding the caller. */
const QUERY_TIMEOUT_MS = 60_000;

type Row = mysql.RowDataPacket;

/**
 * One schema's tables, columns, indexes, views, routines and triggers from information_schema. What
 * it reads is what the server stored (COLUMN_TYPE, the definitions as written or as the server
 * rewrote them at CREATE), so a server read twice, or a clone of it, reads the same.
 */
export async function readMariadbSchema(
  connection: mysql.Connection,
  schema: string,
): Promise<SchemaSnapshot> {
  const rows = async (sql: string) =>
    (await connection.query<Row[]>({ sql, timeout: QUERY_TIMEOUT_MS }, [schema]))[0];

  // System-versioned tables are tables too; sequences (TABLE_TYPE SEQUENCE) are not compared.
  const tableNames = new Set(
    (
      await rows(
        `SELECT TABLE_NAME AS t FROM information_schema.TABLES
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')`,
      )
    ).map((r) => String(r.t)),
  );
  const columns = new Map<string, SchemaColumn[]>([...tableNames].map((t) => [t, []]));
  for (const r of await rows(
    `SELECT TABLE_NAME AS t, COLUMN_NAME AS c, COLUMN_TYPE AS type, IS_NULLABLE AS nullable,
            COLUMN_DEFAULT AS dflt, EXTRA AS extra, GENERATION_EXPRESSION AS gen
     FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION`,
  )) {
    // COLUMNS lists views' columns too: a view is compared by its definition.
    columns.get(String(r.t))?.push({
      name: String(r.c),
      type: columnType(String(r.type), text(r.extra), text(r.gen)),
      nullable: r.nullable === 'YES',
      default: columnDefault(r.dflt),
    });
  }

  const indexes = new Map<string, SchemaIndex & { columns: string[] }>();
  for (const r of await rows(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS i, NON_UNIQUE AS nonUnique, COLUMN_NAME AS c,
            SUB_PART AS part, COLLATION AS dir
     FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX`,
  )) {
    const key = `${r.t}\0${r.i}`;
    let index = indexes.get(key);
    if (!index) {
      index = { table: String(r.t), name: String(r.i), columns: [], unique: Number(r.nonUnique) === 0 };
      indexes.set(key, index);
    }
    // A prefix index keys on the first N characters; D is a descending key part (MariaDB 10.8+).
    const column = r.c === null ? '(expression)' : String(r.c);
    index.columns.push(`${column}${r.part !== null ? `(${r.part})` : ''}${r.dir === 'D' ? ' desc' : ''}`);
  }

  const views = (
    await rows(
      `SELECT TABLE_NAME AS name, VIEW_DEFINITION AS def, CHECK_OPTION AS checkOption
       FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ?`,
    )
  ).map((r) => ({
    name: String(r.name),
    definition: `${text(r.def)}${r.checkOption && r.checkOption !== 'NONE' ? ` with ${String(r.checkOption).toLowerCase()} check option` : ''}`,
  }));

  const triggers = (
    await rows(
      `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS t, ACTION_TIMING AS timing,
              EVENT_MANIPULATION AS event, ACTION_STATEMENT AS statement
       FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?`,
    )
  ).map((r) => ({
    name: String(r.name),
    table: String(r.t),
    timing: String(r.timing),
    event: String(r.event),
    statement: text(r.statement),
  }));

  return sortedSnapshot({
    tables: [...columns].map(([name, cols]) => ({ name, columns: cols })),
    indexes: [...indexes.values()],
    views,
    routines: await readRoutines(rows),
    triggers,
  });
}

/** Routines with their parameters and result: a changed signature is a change, not only a changed body. */
async function readRoutines(rows: (sql: string) => Promise<Row[]>): Promise<SchemaRoutine[]> {
  const signatures = new Map<string, { params: string[]; returns?: string }>();
  for (const r of await rows(
    `SELECT SPECIFIC_NAME AS name, ROUTINE_TYPE AS kind, ORDINAL_POSITION AS pos, PARAMETER_MODE AS mode,
            PARAMETER_NAME AS param, DTD_IDENTIFIER AS type
     FROM information_schema.PARAMETERS WHERE SPECIFIC_SCHEMA = ?
     ORDER BY SPECIFIC_NAME, ROUTINE_TYPE, ORDINAL_POSITION`,
  )) {
    const key = `${r.name}\0${String(r.kind).toLowerCase()}`;
    const signature = signatures.get(key) ?? { params: [] };
    signatures.set(key, signature);
    // Position 0 is a function's result.
    if (Number(r.pos) === 0) signature.returns = String(r.type);
    else signature.params.push([r.mode, r.param, r.type].filter((p) => p !== null).join(' '));
  }
  return (
    await rows(
      `SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS kind, ROUTINE_DEFINITION AS body
       FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?`,
    )
  ).map((r) => {
    const kind = String(r.kind).toLowerCase();
    const signature = signatures.get(`${r.name}\0${kind}`) ?? { params: [] };
    const returns = signature.returns ? ` RETURNS ${signature.returns}` : '';
    return {
      name: String(r.name),
      kind,
      definition: `(${signature.params.join(', ')})${returns} ${text(r.body)}`,
    };
  });
}

/**
 * COLUMN_TYPE with what else makes the column what it is: auto_increment, on update, generated.
 * MySQL's DEFAULT_GENERATED only says the default is an expression, which the default itself shows.
 */
function columnType(type: string, extra: string, generation: string): string {
  const rest = extra
    .split(/\s+/)
    .filter((w) => w !== '' && w !== 'DEFAULT_GENERATED')
    .join(' ')
    .toLowerCase();
  return [type, rest, generation ? `as (${generation})` : ''].filter(Boolean).join(' ');
}

/** MariaDB writes a nullable column's absent default as the text NULL: no default, as elsewhere. */
function columnDefault(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  const text = String(value);
  return text === 'NULL' ? null : text;
}

function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}
