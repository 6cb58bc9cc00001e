/**
 * Turns the row statements of a mysqldump/mariadb-dump file (`INSERT INTO `t` VALUES (...),(...);`)
 * into the text `LOAD DATA` reads (tab between fields, newline after each row, `\N` for NULL,
 * backslash escapes), so the server stores rows without parsing them as SQL.
 *
 * Exactness comes first: a value is converted only where `LOAD DATA` stores what `INSERT` would for
 * that column, which is why the conversion needs the column's kind (from the dump's CREATE TABLE):
 * - a quoted string goes to any column: both store it through the same string conversion;
 * - an unquoted number only to a numeric column (into a text column INSERT would store the number's
 *   canonical form, `1.5e3` as `1500`, where LOAD DATA keeps the text);
 * - a hex literal (`0x..`, `_binary ..`) only to a binary column (into a number INSERT reads it as an
 *   integer);
 * - NULL only to a nullable column, and never to an AUTO_INCREMENT one (LOAD DATA stores a NOT NULL
 *   column's default where a one-row INSERT fails, and generated ids would be handed out elsewhere).
 * Anything else (bit literals, function calls, a column count that does not match, a charset
 * introducer) makes the statement unconvertible: it then goes to the client unchanged.
 */

/** What a column may receive on the fast path. */
export type ColumnKind = 'number' | 'binary' | 'text';

export interface ColumnShape {
  /** The name as the dump writes it, backquotes included. */
  readonly name: string;
  readonly kind: ColumnKind;
  readonly nullable: boolean;
  readonly autoIncrement: boolean;
}

/** A table as its CREATE TABLE declares it; undefined shape = not for the fast path. */
export interface TableShape {
  readonly name: string;
  readonly columns: readonly ColumnShape[];
}

const NUMBER_TYPES = new Set([
  'tinyint',
  'smallint',
  'mediumint',
  'int',
  'integer',
  'bigint',
  'decimal',
  'dec',
  'numeric',
  'fixed',
  'float',
  'double',
  'real',
  'year',
]);
const BINARY_TYPES = new Set(['binary', 'varbinary', 'tinyblob', 'blob', 'mediumblob', 'longblob']);
const TEXT_TYPES = new Set([
  'char',
  'varchar',
  'tinytext',
  'text',
  'mediumtext',
  'longtext',
  'enum',
  'set',
  'date',
  'datetime',
  'timestamp',
  'time',
  'json',
  'uuid',
  'inet4',
  'inet6',
]);

/** Lines of a CREATE TABLE body that declare keys and constraints, not columns. */
const NOT_A_COLUMN =
  /^\s*(PRIMARY|UNIQUE|KEY|INDEX|FULLTEXT|SPATIAL|VECTOR|CONSTRAINT|CHECK|FOREIGN|PERIOD)\b/i;
/** Column or table features whose rows LOAD DATA may not store as INSERT does: left to the client. */
const UNSUPPORTED =
  /\b(GENERATED|VIRTUAL|PERSISTENT|STORED|INVISIBLE|SYSTEM VERSIONING|WITHOUT SYSTEM|ROW START|ROW END)\b|\bAS \(/i;

/**
 * The shape of a table from the lines of its CREATE TABLE (first line `CREATE TABLE `t` (`, last line
 * `) ENGINE=...`), or undefined when a column or the table has something the fast path leaves alone.
 */
export function tableShape(block: readonly string[]): TableShape | undefined {
  const head = /^CREATE TABLE (`(?:[^`]|``)+`) \($/.exec(block[0]?.trim() ?? '');
  if (!head || block.length < 3) return undefined;
  if (UNSUPPORTED.test(block.at(-1)!)) return undefined;
  const columns: ColumnShape[] = [];
  for (const text of block.slice(1, -1)) {
    const line = text.trimEnd();
    if (NOT_A_COLUMN.test(line)) continue;
    const column = /^\s*(`(?:[^`]|``)+`) ([a-z0-9]+)\b(.*)$/i.exec(line);
    if (!column) return undefined;
    const [, name, type, rest] = column as unknown as [string, string, string, string];
    if (UNSUPPORTED.test(rest)) return undefined;
    const lower = type.toLowerCase();
    const kind: ColumnKind | undefined = NUMBER_TYPES.has(lower)
      ? 'number'
      : BINARY_TYPES.has(lower)
        ? 'binary'
        : TEXT_TYPES.has(lower)
          ? 'text'
          : undefined;
    if (!kind) return undefined;
    columns.push({
      name,
      kind,
      nullable: !/\bNOT NULL\b/i.test(rest),
      autoIncrement: /\bAUTO_INCREMENT\b/i.test(rest),
    });
  }
  if (columns.length === 0) return undefined;
  return { name: head[1]!, columns };
}

/** The table and column list of a row statement, and where its first row begins. */
export interface InsertHead {
  readonly table: string;
  /** The statement's column list (backquoted names), or undefined for every column in order. */
  readonly columns: readonly string[] | undefined;
  /** Offset of the `(` that opens the first row. */
  readonly rowsStart: number;
}

const HEAD = /^INSERT INTO (`(?:[^`]|``)+`) (?:\(((?:`(?:[^`]|``)+`,? ?)+)\) )?VALUES\s*\(/;

export function insertHead(line: Buffer): InsertHead | undefined {
  // The head is short; only it is decoded (a row line is often a MiB).
  const text = line.subarray(0, 64 * 1024).toString('latin1');
  const match = HEAD.exec(text);
  if (!match) return undefined;
  const columns = match[2] ? match[2].match(/`(?:[^`]|``)+`/g)! : undefined;
  return { table: match[1]!, columns, rowsStart: match[0].length - 1 };
}

export interface ConvertedRows {
  readonly data: Buffer;
  readonly rows: number;
}

const QUOTE = 0x27;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const OPEN = 0x28;
const CLOSE = 0x29;
const SEMICOLON = 0x3b;
const TAB = 0x09;
const NEWLINE = 0x0a;
const CR = 0x0d;
const SPACE = 0x20;

/** What a backslash escape in a MySQL string literal stands for (others: the character itself). */
const SQL_ESCAPES: Record<number, number> = {
  48: 0x00, // \0
  98: 0x08, // \b
  110: 0x0a, // \n
  114: 0x0d, // \r
  116: 0x09, // \t
  90: 0x1a, // \Z
};

/**
 * The rows of a row statement (from `head.rowsStart`) as LOAD DATA text for `columns` (the statement's
 * columns, in its order), or undefined when any value is not one the fast path stores exactly.
 */
export function convertRows(
  line: Buffer,
  start: number,
  columns: readonly ColumnShape[],
): ConvertedRows | undefined {
  // Worst case every byte becomes two (an escaped tab in a string, a hex digit pair per byte).
  const out = Buffer.allocUnsafe(line.length * 2 + 16);
  let o = 0;
  let i = start;
  let rows = 0;
  const n = line.length;
  for (;;) {
    if (line[i] !== OPEN) return undefined;
    i++;
    for (let c = 0; c < columns.length; c++) {
      const column = columns[c]!;
      if (c > 0) {
        if (line[i] !== COMMA) return undefined;
        out[o++] = TAB;
        i++;
      }
      let binaryString = false;
      if (line[i] === 0x5f && line.subarray(i, i + 8).toString('latin1') === '_binary ') {
        // _binary '...' (MySQL 8's mysqldump): a string of bytes, for a binary column only.
        if (column.kind !== 'binary') return undefined;
        i += 8;
        binaryString = true;
      }
      const b = line[i];
      if (b === QUOTE) {
        // A quoted string: decoded from SQL escapes, written with LOAD DATA's.
        i++;
        for (;;) {
          if (i >= n) return undefined;
          let x = line[i]!;
          if (x === QUOTE) {
            if (line[i + 1] === QUOTE) {
              out[o++] = QUOTE;
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (x === BACKSLASH) {
            const e = line[i + 1];
            if (e === undefined) return undefined;
            i += 2;
            if (e === 0x25 || e === 0x5f) {
              // \% and \_ keep their backslash in a string literal.
              out[o++] = BACKSLASH;
              out[o++] = BACKSLASH;
              out[o++] = e;
              continue;
            }
            x = SQL_ESCAPES[e] ?? e;
          } else {
            i++;
          }
          o = putByte(out, o, x);
        }
      } else if (binaryString) {
        return undefined;
      } else if (b === 0x4e && line[i + 1] === 0x55 && line[i + 2] === 0x4c && line[i + 3] === 0x4c) {
        // NULL
        if (!column.nullable || column.autoIncrement) return undefined;
        out[o++] = BACKSLASH;
        out[o++] = 0x4e;
        i += 4;
      } else if (b === 0x30 && line[i + 1] === 0x78) {
        // 0x hex: the bytes themselves, for a binary column only.
        if (column.kind !== 'binary') return undefined;
        i += 2;
        const from = i;
        while (isHex(line[i])) i++;
        const digits = i - from;
        if (digits === 0 || digits % 2 !== 0) return undefined;
        for (let h = from; h < i; h += 2)
          o = putByte(out, o, (hexValue(line[h]!) << 4) | hexValue(line[h + 1]!));
      } else {
        // A number: copied as written, for a numeric column only.
        if (column.kind !== 'number') return undefined;
        const from = i;
        if (line[i] === 0x2d) i++;
        const digitsFrom = i;
        while (isDigit(line[i])) i++;
        if (line[i] === 0x2e) {
          i++;
          while (isDigit(line[i])) i++;
        }
        if (i === digitsFrom || (i === digitsFrom + 1 && line[digitsFrom] === 0x2e)) return undefined;
        if (line[i] === 0x65 || line[i] === 0x45) {
          i++;
          if (line[i] === 0x2d || line[i] === 0x2b) i++;
          const exponent = i;
          while (isDigit(line[i])) i++;
          if (i === exponent) return undefined;
        }
        // -0: INSERT reads the integer 0 (or a decimal); LOAD DATA's text gives a float column -0.0.
        if (line[from] === 0x2d && isNegativeZero(line, digitsFrom, i)) return undefined;
        line.copy(out, o, from, i);
        o += i - from;
      }
    }
    if (line[i] !== CLOSE) return undefined;
    i++;
    out[o++] = NEWLINE;
    rows++;
    if (line[i] === COMMA) {
      i++;
      // mariadb-dump since 10.11.? puts each row on a line of its own.
      while (line[i] === NEWLINE || line[i] === CR) i++;
      continue;
    }
    if (line[i] !== SEMICOLON) return undefined;
    i++;
    while (i < n && (line[i] === NEWLINE || line[i] === CR || line[i] === SPACE)) i++;
    if (i !== n) return undefined;
    return { data: out.subarray(0, o), rows };
  }
}

/** One byte of a field, escaped the way LOAD DATA ... ESCAPED BY '\\' reads it. */
function putByte(out: Buffer, o: number, x: number): number {
  switch (x) {
    case BACKSLASH:
      out[o] = BACKSLASH;
      out[o + 1] = BACKSLASH;
      return o + 2;
    case TAB:
      out[o] = BACKSLASH;
      out[o + 1] = 0x74;
      return o + 2;
    case NEWLINE:
      out[o] = BACKSLASH;
      out[o + 1] = 0x6e;
      return o + 2;
    case CR:
      out[o] = BACKSLASH;
      out[o + 1] = 0x72;
      return o + 2;
    case 0:
      out[o] = BACKSLASH;
      out[o + 1] = 0x30;
      return o + 2;
    default:
      out[o] = x;
      return o + 1;
  }
}

/** Whether the mantissa in [from, to) (digits, a point, an exponent) has no digit but 0. */
function isNegativeZero(line: Buffer, from: number, to: number): boolean {
  for (let k = from; k < to; k++) {
    const b = line[k]!;
    if (b === 0x65 || b === 0x45) return true;
    if (b !== 0x30 && b !== 0x2e) return false;
  }
  return true;
}

function isDigit(b: number | undefined): boolean {
  return b !== undefined && b >= 0x30 && b <= 0x39;
}

function isHex(b: number | undefined): boolean {
  return (
    b !== undefined && ((b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x46) || (b >= 0x61 && b <= 0x66))
  );
}

function hexValue(b: number): number {
  return b <= 0x39 ? b - 0x30 : (b | 0x20) - 0x57;
}
