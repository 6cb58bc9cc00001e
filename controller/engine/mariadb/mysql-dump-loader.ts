import type { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import type { ExecResult, ExecSession } from '../sessions.js';
import { type ColumnShape, type TableShape, convertRows, insertHead, tableShape } from './insert-rows.js';

/**
 * Opens one more client session on the import server (the engine's own command-line client). With
 * `execute`, the client runs that SQL, reading a `LOAD DATA LOCAL INFILE '/dev/stdin'` from its stdin,
 * instead of reading SQL there.
 */
export type OpenClient = (execute?: string) => Promise<ExecSession>;

export interface LoadOptions {
  /** Load rows over two client connections (the import is CPU-bound in the server). @default true */
  readonly parallel?: boolean;
  /** Build non-unique secondary indexes after a table's rows are in, by sorting. @default true */
  readonly deferIndexes?: boolean;
  /**
   * Row statements the server may store exactly as LOAD DATA go that way (see insert-rows.ts), once a
   * table's rows in a run pass `fastRowsAfterBytes` (a client per small table would cost more than
   * it saves). @default true
   */
  readonly fastRows?: boolean;
  /** @default 1 MiB */
  readonly fastRowsAfterBytes?: number;
}

/** Character sets whose bytes 0x27 and 0x5c are always a quote and a backslash (no multibyte trail). */
const FAST_CHARSETS = new Set(['utf8mb4', 'utf8', 'utf8mb3', 'latin1', 'ascii', 'binary']);

const NEWLINE = 0x0a;
/** How long a failed load waits for a client that quit to say why. */
const FAILURE_GRACE_MS = 2000;
const INSERT_PREFIX = Buffer.from('INSERT INTO `');
/** The first line of a row statement written one row per line. */
const ROW_HEAD_ALONE = /^INSERT INTO `(?:[^`]|``)+` (?:\([^)]*\) )?VALUES(?: \(.*\),)?$/;
/** mysqldump and mariadb-dump say who they are in the first lines; only their layout is rearranged. */
const DUMP_HEADER = /^-- (MariaDB|MySQL) dump /m;

/**
 * Feeds a MySQL/MariaDB dump to the engine's own client, as `mariadb < dump.sql` would, and faster:
 *
 * - For a dump written by mysqldump/mariadb-dump, the row data (its one-line `INSERT INTO` statements)
 *   goes over two client connections; everything else (DDL, DELIMITER blocks, triggers, routines,
 *   client commands) goes in order through the first one. Barriers keep the order that matters: a
 *   table exists before rows go to the second connection, and all of a table's rows are in before
 *   the next statement that is not row data (a trigger, say) runs. LOCK TABLES lines are dropped:
 *   they would make the two connections wait on each other, and only ever helped MyISAM.
 * - Plain `KEY` indexes of a table without foreign keys are added after its rows, where InnoDB
 *   builds them by sorting instead of row by row.
 *
 * Anything else (hand-written SQL) streams unchanged through one connection.
 */
export class MysqlDumpLoader {
  readonly #open: OpenClient;
  readonly #log: Logger;
  readonly #parallel: boolean;
  readonly #deferIndexes: boolean;
  #main!: Session;
  #second: Session | undefined;
  /** Lines every connection needs before rows: the header's session SETs (never a global one). */
  #headerSets: string[] = [];
  /** The last USE that chose the database, replayed with the header's SETs. */
  #lastUse: string | undefined;
  #inPreamble = true;
  #delimiter = ';';
  #state: 'control' | 'data' = 'control';
  #createBlock: string[] | undefined;
  #deferred = new Map<string, string[]>();
  #barrierCount = 0;
  /** The pieces of a line not yet ended (a row line of 1 MiB comes in many chunks). */
  #pending: Buffer[] = [];
  #sendToSecond = false;
  /** A statement spans lines (a view, a routine body): its lines are not row data, whatever they say. */
  #openStatement = false;
  #rearranged = false;
  readonly #fastRows: boolean;
  readonly #fastRowsAfterBytes: number;
  /** Tables created in this dump whose rows may take the fast path, by backquoted name. */
  #shapes = new Map<string, TableShape>();
  /** The dump's SQL_MODE and NAMES, from its header: the fast path needs both known. */
  #headerSqlMode: string | undefined;
  #names = 'utf8mb4';
  /** Settings changed since the header, as far as followed: AS_IN_HEADER or what they were set to. */
  #session = new Map<string, string>();
  /** What mysqldump saved to its @saved_ variables, to be put back. */
  #saved = new Map<string, string>();
  /** A SET the fast path does not follow ran: from then on, rows go the plain way. */
  #sessionUnknown = false;
  /** The rows of one table in the current run, and how many bytes of them went the plain way. */
  #runTable: { key: string; plainBytes: number } | undefined;
  #fastRun: FastRun | undefined;
  #fastRowsLoaded = 0;
  /** The lines so far of a row statement written one row per line. */
  #rowLines: Buffer[] | undefined;

  constructor(open: OpenClient, log: Logger, options: LoadOptions = {}) {
    this.#open = open;
    this.#log = log;
    this.#parallel = options.parallel ?? true;
    this.#deferIndexes = options.deferIndexes ?? true;
    this.#fastRows = options.fastRows ?? true;
    this.#fastRowsAfterBytes = options.fastRowsAfterBytes ?? 2 ** 20;
  }

  /** How many rows went in through LOAD DATA. */
  get fastRowsLoaded(): number {
    return this.#fastRowsLoaded;
  }

  /** True when the dump was rearranged: the client's "at line N" then counts its own stream's lines. */
  get rearranged(): boolean {
    return this.#rearranged;
  }

  async load(input: Readable): Promise<ExecResult> {
    this.#main = new Session(await this.#open());
    let recognised: boolean | undefined;
    try {
      for await (const chunk of input as AsyncIterable<Buffer>) {
        if (recognised === undefined) {
          recognised = DUMP_HEADER.test(chunk.subarray(0, 4096).toString('utf8'));
          this.#rearranged = recognised;
          this.#log.info(
            { rearranged: recognised },
            recognised
              ? 'dump written by mysqldump/mariadb-dump: loading rows in parallel'
              : 'loading the dump as it is',
          );
        }
        if (!recognised) {
          await this.#main.write(chunk);
          continue;
        }
        await this.#lines(chunk);
      }
      if (recognised && this.#pending.length > 0) await this.#line(Buffer.concat(this.#pending));
      if (recognised && this.#rowLines) {
        // The dump ended inside what looked like a row statement: its lines go as they came.
        const lines = this.#rowLines;
        this.#rowLines = undefined;
        for (const [i, gathered] of lines.entries()) await this.#line(gathered, i > 0);
      }
      if (recognised) await this.#endData();
    } catch (error) {
      if (error instanceof FastRunFailed) {
        this.#main.abort();
        this.#second?.abort();
        return error.result;
      }
      // A write fails (EPIPE) as soon as a client quits, often before its exit is seen: give the
      // client a moment to say why, before ending all (one ended by us would only say it was killed).
      const failed = await this.#failureWithin(FAILURE_GRACE_MS);
      this.#fastRun?.session.abort();
      this.#main.abort();
      this.#second?.abort();
      if (failed) return failed;
      throw error;
    }
    this.#main.end();
    this.#second?.end();
    const results = await Promise.all([this.#main.result, ...(this.#second ? [this.#second.result] : [])]);
    return results.find((r) => r.exitCode !== 0) ?? results[0]!;
  }

  /** When a client died, its result says why (the SQL error), better than the broken pipe it caused. */
  async #failureWithin(ms: number): Promise<ExecResult | undefined> {
    const fast = this.#fastRun;
    const sessions = [this.#main, this.#second, fast?.session].filter((s): s is Session => s !== undefined);
    const failure = (s: Session) =>
      s.result.then((r) =>
        r.exitCode === 0
          ? new Promise<never>(() => undefined)
          : s === fast?.session
            ? { ...r, output: `${LOAD_DATA_FAILED} table ${fast.table}: ${r.output}` }
            : r,
      );
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    try {
      return await Promise.race([...sessions.map(failure), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #lines(chunk: Buffer): Promise<void> {
    let start = 0;
    let end = chunk.indexOf(NEWLINE);
    if (end < 0) {
      // Joined once, when the line ends: joining at every chunk would copy a long line many times.
      this.#pending.push(chunk);
      return;
    }
    if (this.#pending.length > 0) {
      this.#pending.push(chunk.subarray(0, end + 1));
      const line = Buffer.concat(this.#pending);
      this.#pending = [];
      await this.#line(line);
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    while (end >= 0) {
      await this.#line(chunk.subarray(start, end + 1));
      start = end + 1;
      end = chunk.indexOf(NEWLINE, start);
    }
    // A copy: the stream may reuse its buffer.
    if (start < chunk.length) this.#pending.push(Buffer.from(chunk.subarray(start)));
  }

  async #line(line: Buffer, rowHeads = true): Promise<void> {
    if (this.#createBlock) return this.#createLine(line.toString('utf8'));
    if (this.#rowLines) return this.#rowStatementLine(line);
    const insert =
      !this.#openStatement &&
      this.#delimiter === ';' &&
      line.subarray(0, INSERT_PREFIX.length).equals(INSERT_PREFIX);
    if (insert && isStatementEnd(line)) return this.#dataLine(line);
    if (insert && rowHeads && ROW_HEAD_ALONE.test(line.toString('latin1').trimEnd())) {
      // mariadb-dump since 10.11.8 writes `INSERT INTO `t` VALUES` (with --complete-insert, the
      // first row too), then one row per line.
      this.#rowLines = [Buffer.from(line)];
      return;
    }
    const text = line.toString('utf8');
    const trimmed = text.trim();
    // Whether this line goes on a statement begun on an earlier one (a view, a routine body).
    const continued = this.#openStatement;
    if (trimmed !== '' && !trimmed.startsWith('--')) this.#openStatement = !trimmed.endsWith(this.#delimiter);
    if (/^(LOCK TABLES|UNLOCK TABLES)\b/i.test(trimmed)) return;
    if (this.#state === 'data') await this.#endData();
    if (this.#inPreamble) {
      if (trimmed === '' || trimmed.startsWith('--') || /^\/\*[!M]/.test(trimmed) || /^SET /i.test(trimmed)) {
        this.#readHeader(trimmed);
      } else {
        this.#inPreamble = false;
      }
    }
    if (!this.#inPreamble) this.#watchControl(trimmed, continued);
    const delimiter = /^DELIMITER\s+(\S+)/i.exec(trimmed);
    if (delimiter) {
      this.#delimiter = delimiter[1]!;
      this.#openStatement = false;
    }
    if (/^(USE|CREATE DATABASE)\s/i.test(trimmed)) {
      // Held-back indexes belong to the current database: add them before it changes.
      await this.#endData();
      this.#shapes.clear();
    }
    // A USE statement of its own (not `USE INDEX` inside a routine body).
    if (!continued && this.#delimiter === ';' && /^USE\s+(`(?:[^`]|``)+`|\w+)\s*;$/i.test(trimmed)) {
      this.#lastUse = trimmed;
      await this.#second?.write(line);
    }
    if ((this.#deferIndexes || this.#fastRows) && /^CREATE TABLE `[^`]+` \($/.test(trimmed)) {
      this.#createBlock = [text];
      return;
    }
    await this.#main.write(line);
  }

  /**
   * A line of a row statement written one row per line: gathered until the row that ends it, then
   * the statement is row data like a one-line one. A line that is not a row means it was not one:
   * its lines go on as they came.
   */
  async #rowStatementLine(line: Buffer): Promise<void> {
    const lines = this.#rowLines!;
    const end = contentEnd(line);
    const last = end >= 2 ? line.subarray(end - 2, end).toString('latin1') : '';
    if (line[0] === 0x28 && last === '),') {
      lines.push(Buffer.from(line));
      return;
    }
    this.#rowLines = undefined;
    if (line[0] === 0x28 && last === ');') {
      lines.push(line);
      return this.#dataLine(Buffer.concat(lines));
    }
    for (const [i, gathered] of lines.entries()) await this.#line(gathered, i > 0);
    return this.#line(line);
  }

  /** Buffers a CREATE TABLE to its closing line, then sends it with plain KEYs held back for later. */
  async #createLine(text: string): Promise<void> {
    this.#createBlock!.push(text);
    if (!text.startsWith(')')) return;
    const block = this.#createBlock!;
    this.#createBlock = undefined;
    this.#openStatement = !text.trim().endsWith(this.#delimiter);
    const table = /^CREATE TABLE (`[^`]+`)/.exec(block[0]!.trim())![1]!;
    const shape = this.#fastRows && !this.#openStatement ? tableShape(block) : undefined;
    if (shape) this.#shapes.set(table, shape);
    else this.#shapes.delete(table);
    const body = block.slice(1, -1);
    const tricky = body.some((l) => /\b(CONSTRAINT|FOREIGN KEY|FULLTEXT|SPATIAL|VECTOR)\b/i.test(l));
    const deferred =
      tricky || !this.#deferIndexes ? [] : body.filter((l) => /^\s+KEY `[^`]+` \(.*\),?\s*$/.test(l));
    if (deferred.length === 0) {
      await this.#main.write(Buffer.from(block.join('')));
      return;
    }
    const kept = body.filter((l) => !deferred.includes(l)).map((l) => l.replace(/,\s*$/, ''));
    const create = [block[0]!.replace(/\s*$/, ''), kept.join(',\n'), block.at(-1)!.replace(/\s*$/, '')].join(
      '\n',
    );
    await this.#main.write(Buffer.from(`${create}\n`));
    this.#deferred.set(
      table,
      deferred.map((l) => `ADD ${l.trim().replace(/,$/, '')}`),
    );
  }

  async #dataLine(line: Buffer): Promise<void> {
    if (this.#state === 'control') {
      this.#state = 'data';
      if (this.#parallel || this.#fastRows) {
        // The table must exist before another connection writes rows into it.
        await this.#main.barrier(this.#nextBarrier(), this.#delimiter);
      }
    }
    if (await this.#fastLine(line)) return;
    if (this.#parallel) this.#second ??= await this.#openSecond();
    // Alternate whole statements, so both connections stay busy.
    this.#sendToSecond = this.#parallel && !this.#sendToSecond;
    await (this.#sendToSecond && this.#second ? this.#second : this.#main).write(line);
  }

  /** The rows are all sent: wait until both connections have them in, then add the held-back indexes. */
  async #endData(): Promise<void> {
    if (this.#state !== 'data' && this.#deferred.size === 0) return;
    this.#state = 'control';
    this.#runTable = undefined;
    await this.#finishFastRun();
    if (this.#second) await this.#second.barrier(this.#nextBarrier(), ';');
    if (this.#deferred.size > 0 && this.#delimiter === ';') {
      for (const [table, keys] of this.#deferred) {
        await this.#main.write(Buffer.from(`ALTER TABLE ${table} ${keys.join(', ')};\n`));
      }
      this.#deferred.clear();
    }
  }

  /** Notes what the dump's header says the fast path depends on. */
  #readHeader(line: string): void {
    if (/^(\/\*M?!\d*\s*)?SET\s/i.test(line) && !/@@GLOBAL\b|\bGLOBAL\s/i.test(line)) {
      // A statement spanning lines cannot be replayed line by line: the fast path is off then.
      if (line.endsWith(';')) this.#headerSets.push(line);
      else this.#sessionUnknown = true;
    }
    const mode = /\bSQL_MODE\s*=\s*'([^']*)'/i.exec(line);
    if (mode) this.#headerSqlMode = mode[1]!.toUpperCase();
    // The header runs on into the first table's saving and setting of the client charset.
    const set = SET_LINE.exec(line);
    if (set) this.#followSet(set[1]!, true);
    const names = /\bSET NAMES (\w+)/i.exec(line);
    if (names) this.#names = names[1]!.toLowerCase();
  }

  /**
   * A statement after the header: what it may change that the fast path relies on. The fast client
   * replays the header's settings, so only the settings mysqldump changes and puts back are followed
   * (the client charset around each CREATE; a trigger's own charset and sql_mode); any other SET
   * turns the fast path off for the rest of the dump.
   */
  #watchControl(line: string, continued: boolean): void {
    if (line === '' || line.startsWith('--')) return;
    // Keys turned off and on again change nothing LOAD DATA depends on; any other statement naming a
    // table (ALTER, a trigger, RENAME, DROP), on any of its lines, may: its rows go the plain way.
    if (!/^\/\*!40000 ALTER TABLE `(?:[^`]|``)+` (DISABLE|ENABLE) KEYS \*\/;$/.test(line)) {
      for (const name of line.match(/`(?:[^`]|``)+`/g) ?? []) this.#shapes.delete(name);
    }
    // A line inside a statement begun earlier (a routine body) is not run on its own.
    if (continued) return;
    // The client's own commands that change the connection's charset or server.
    if (/^\\|^(charset|connect)\s/i.test(line)) {
      this.#sessionUnknown = true;
      return;
    }
    const set = SET_LINE.exec(line);
    if (!set) return;
    if (this.#openStatement)
      this.#sessionUnknown = true; // a SET spanning lines: not followed
    else this.#followSet(set[1]!);
  }

  /**
   * Follows the settings mysqldump changes and puts back (the client charset around each CREATE and
   * view stand-in; a trigger's charset and sql_mode; the time zone around events): what is saved to
   * a variable is what a later restore from it gives. Any other SET turns the fast path off.
   */
  #followSet(assignment: string, inHeader = false): void {
    const save = /^@(saved?_\w+)\s*=\s*@@(\w+)$/i.exec(assignment);
    if (save) {
      this.#saved.set(save[1]!.toLowerCase(), this.#session.get(save[2]!.toLowerCase()) ?? AS_IN_HEADER);
      return;
    }
    const assign =
      /^(character_set_client|character_set_results|collation_connection|time_zone|sql_mode)\s*=\s*(?:@(saved?_\w+)|'([^']*)'|(\w+))$/i.exec(
        assignment,
      );
    if (!assign) {
      // The header's own settings are replayed in every client: only those after it are unknown.
      if (!inHeader) this.#sessionUnknown = true;
      return;
    }
    const variable = assign[1]!.toLowerCase();
    // The results' charset changes nothing of what the server stores.
    if (variable === 'character_set_results') return;
    if (assign[2]) {
      const saved = this.#saved.get(assign[2].toLowerCase());
      if (saved === undefined) this.#sessionUnknown = true;
      else this.#session.set(variable, saved);
      return;
    }
    const value = assign[3] ?? assign[4]!;
    // A header's setting is replayed in every client, so it is the header's by definition.
    const asInHeader = inHeader || (variable === 'sql_mode' && value.toUpperCase() === this.#headerSqlMode);
    this.#session.set(variable, asInHeader ? AS_IN_HEADER : `${variable}=${value}`);
  }

  /** Whether the dump's session state lets LOAD DATA store rows exactly as its INSERTs would. */
  #fastAllowed(): boolean {
    const mode = this.#headerSqlMode;
    return (
      this.#fastRows &&
      this.#delimiter === ';' &&
      !this.#sessionUnknown &&
      [...this.#session.values()].every((v) => v === AS_IN_HEADER) &&
      FAST_CHARSETS.has(this.#names) &&
      mode !== undefined &&
      // mysqldump's own mode. Strict modes turn what LOAD DATA LOCAL reports as warnings into errors;
      // without NO_AUTO_VALUE_ON_ZERO a 0 id is generated, in whatever order the server sees the rows;
      // others change how values are read (NO_BACKSLASH_ESCAPES, EMPTY_STRING_IS_NULL, ...).
      mode
        .split(',')
        .filter((m) => m !== 'NO_ENGINE_SUBSTITUTION')
        .join(',') === 'NO_AUTO_VALUE_ON_ZERO'
    );
  }

  /**
   * Sends a row statement through LOAD DATA when it can be stored exactly that way; false if not, and
   * then any LOAD DATA still open has ended: it may hold its table's AUTO-INC lock to its end, which
   * would keep the plain INSERT waiting.
   */
  async #fastLine(line: Buffer): Promise<boolean> {
    const fast = await this.#tryFast(line);
    if (!fast) await this.#finishFastRun();
    return fast;
  }

  async #tryFast(line: Buffer): Promise<boolean> {
    if (!this.#fastAllowed()) return false;
    const head = insertHead(line);
    const shape = head && this.#shapes.get(head.table);
    if (!head || !shape) return false;
    const columns = head.columns
      ? head.columns.map((name) => shape.columns.find((c) => c.name === name))
      : shape.columns;
    if (columns.some((c) => c === undefined)) return false;
    const key = `${head.table}(${head.columns?.join(',') ?? '*'})`;
    if (this.#fastRun && this.#fastRun.key !== key) await this.#finishFastRun();
    if (this.#runTable?.key !== key) this.#runTable = { key, plainBytes: 0 };
    if (!this.#fastRun && this.#runTable.plainBytes < this.#fastRowsAfterBytes) {
      this.#runTable.plainBytes += line.length;
      return false;
    }
    const converted = convertRows(line, head.rowsStart, columns as ColumnShape[]);
    if (!converted) {
      // The next MiB of the table goes the plain way too: a client per statement would cost more.
      this.#runTable.plainBytes = 0;
      return false;
    }
    if (!this.#fastRun) {
      // The rows sent the plain way before are in first, for the same reason.
      await this.#main.barrier(this.#nextBarrier(), this.#delimiter);
      if (this.#second) await this.#second.barrier(this.#nextBarrier(), ';');
      this.#fastRun = await this.#openFastRun(key, head.table, head.columns);
    }
    this.#fastRun.rows += converted.rows;
    await this.#fastRun.session.write(converted.data);
    return true;
  }

  async #openFastRun(key: string, table: string, columns: readonly string[] | undefined): Promise<FastRun> {
    const settings = this.#replayed().join(' ');
    const sql = [
      settings,
      `LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE ${table} CHARACTER SET ${this.#names}`,
      "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n'",
      columns ? `(${columns.join(',')});` : ';',
      `SELECT CONCAT('${LOADED_MARKER} ', ROW_COUNT(), ' ', @@warning_count) AS loaded;`,
      'SHOW WARNINGS LIMIT 3;',
    ].join(' ');
    return { key, table, rows: 0, session: new Session(await this.#open(sql)) };
  }

  /**
   * Ends the LOAD DATA of the current run and checks that the server kept every row: LOAD DATA LOCAL
   * skips a row (a duplicate key, say) with a warning where the dump's INSERT would have failed, so a
   * row short fails the load as the plain one would have.
   */
  async #finishFastRun(): Promise<void> {
    const run = this.#fastRun;
    if (!run) return;
    this.#fastRun = undefined;
    run.session.end();
    const result = await run.session.result;
    if (result.exitCode !== 0) {
      // Said as the loader's own failure: a refusal here (the server's local_infile off) is no
      // command of the dump's.
      throw new FastRunFailed({
        exitCode: result.exitCode,
        output: `${LOAD_DATA_FAILED} table ${run.table}: ${result.output}`,
      });
    }
    const loaded = new RegExp(`${LOADED_MARKER} (\\d+) (\\d+)`).exec(result.output);
    const kept = loaded ? Number(loaded[1]) : -1;
    if (kept !== run.rows) {
      const warning = /^(Warning|Error|Note)\t(\d+)\t(.*)$/m.exec(result.output);
      throw new FastRunFailed({
        exitCode: 1,
        output: `ERROR${warning ? ` ${warning[2]}` : ''}: table ${run.table}: the server stored ${kept < 0 ? 'none' : kept} of the dump's ${run.rows} rows${warning ? `: ${warning[3]}` : ''}\n`,
      });
    }
    // Warnings with every row kept are the ones INSERT gives too (the dump's SQL_MODE is not strict).
    this.#log.info(
      { table: run.table, rows: run.rows, warnings: Number(loaded?.[2] ?? 0) },
      'rows loaded through LOAD DATA',
    );
    this.#fastRowsLoaded += run.rows;
  }

  async #openSecond(): Promise<Session> {
    const session = new Session(await this.#open());
    await session.write(
      Buffer.from(
        this.#replayed()
          .map((l) => `${l}\n`)
          .join(''),
      ),
    );
    return session;
  }

  /**
   * What a client opened mid-dump runs first: the header's session SETs (never a global one, such as
   * a GTID dump's SET @@GLOBAL.GTID_PURGED) and the last USE that chose the database.
   */
  #replayed(): string[] {
    return this.#lastUse ? [...this.#headerSets, this.#lastUse] : this.#headerSets;
  }

  #nextBarrier(): string {
    this.#barrierCount += 1;
    // Fixed width: no marker is a prefix of another.
    return `myaas-barrier-${String(this.#barrierCount).padStart(9, '0')}`;
  }
}

const LOADED_MARKER = 'myaas-loaded';
/** A SET statement on one line, bare or in an executable comment; its assignments. */
const SET_LINE = /^(?:\/\*M?!\d*\s*)?SET\s+(.*?)\s*(?:\*\/)?\s*;*$/i;
/** A setting as the header left it. */
const AS_IN_HEADER = 'header';
/** How the output of the loader's own LOAD DATA client begins when it failed. */
export const LOAD_DATA_FAILED = "the loader's LOAD DATA of";

/** The LOAD DATA of one table's rows in the current run. */
interface FastRun {
  readonly key: string;
  readonly table: string;
  rows: number;
  readonly session: Session;
}

/** A LOAD DATA failed, or kept fewer rows than it was sent: the load ends with this result. */
class FastRunFailed extends Error {
  constructor(readonly result: ExecResult) {
    super(result.output);
  }
}

/** One client connection: writes with backpressure, and barriers acknowledged through its output. */
class Session {
  #output = '';
  #waiters: { marker: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  exited = false;
  readonly result: Promise<ExecResult>;

  constructor(readonly exec: ExecSession) {
    exec.onOutput((text) => {
      // Only the tail matters: markers are short.
      this.#output = (this.#output + text).slice(-4096);
      for (const waiter of [...this.#waiters]) {
        if (this.#output.includes(waiter.marker)) {
          this.#waiters = this.#waiters.filter((w) => w !== waiter);
          waiter.resolve();
        }
      }
    });
    const ended = (result: ExecResult) => {
      this.exited = true;
      for (const waiter of this.#waiters) waiter.reject(new Error('the client ended before a barrier'));
      this.#waiters = [];
      return result;
    };
    this.result = exec.result.then(ended, (error: unknown) => ended({ exitCode: -1, output: String(error) }));
  }

  write(data: Buffer): Promise<void> {
    if (this.exited) return Promise.reject(new Error('the client ended early'));
    if (this.exec.stdin.write(data)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onDrain = () => {
        this.exec.stdin.off('error', onError);
        resolve();
      };
      const onError = (error: Error) => {
        this.exec.stdin.off('drain', onDrain);
        reject(error);
      };
      this.exec.stdin.once('drain', onDrain);
      this.exec.stdin.once('error', onError);
      void this.result.then(() => reject(new Error('the client ended early')));
    });
  }

  /** Resolves once the client has run everything written so far. */
  async barrier(marker: string, delimiter: string): Promise<void> {
    const seen = new Promise<void>((resolve, reject) => this.#waiters.push({ marker, resolve, reject }));
    await this.write(Buffer.from(`SELECT '${marker}'${delimiter}\n`));
    await seen;
  }

  end(): void {
    this.exec.stdin.end();
  }

  abort(): void {
    this.exec.abort();
  }
}

/** Where a line's content ends, before its trailing newline, CR and spaces. */
function contentEnd(line: Buffer): number {
  let end = line.length;
  while (end > 0 && (line[end - 1] === NEWLINE || line[end - 1] === 0x0d || line[end - 1] === 0x20)) end--;
  return end;
}

function isStatementEnd(line: Buffer): boolean {
  const end = contentEnd(line);
  return end >= 2 && line[end - 1] === 0x3b && line[end - 2] === 0x29; // ");"
}
