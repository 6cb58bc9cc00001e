import type { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import type { ExecResult, ExecSession } from '../sessions.js';

/** Opens one more client session on the import server (the engine's own command-line client). */
export type OpenClient = () => Promise<ExecSession>;

export interface LoadOptions {
  /** Load rows over two client connections (the import is CPU-bound in the server). @default true */
  readonly parallel?: boolean;
  /** Build non-unique secondary indexes after a table's rows are in, by sorting. @default true */
  readonly deferIndexes?: boolean;
}

const NEWLINE = 0x0a;
/** How long a failed load waits for a client that quit to say why. */
const FAILURE_GRACE_MS = 2000;
const INSERT_PREFIX = Buffer.from('INSERT INTO `');
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
  /** Lines every connection needs before rows: the dump's session settings. */
  #sessionLines: string[] = [];
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

  constructor(open: OpenClient, log: Logger, options: LoadOptions = {}) {
    this.#open = open;
    this.#log = log;
    this.#parallel = options.parallel ?? true;
    this.#deferIndexes = options.deferIndexes ?? true;
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
      if (recognised) await this.#endData();
    } catch (error) {
      // A write fails (EPIPE) as soon as a client quits, often before its exit is seen: give the
      // client a moment to say why, before ending both.
      const failed = await this.#failureWithin(FAILURE_GRACE_MS);
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
    const sessions = [this.#main, this.#second].filter((s): s is Session => s !== undefined);
    const failure = (s: Session) =>
      s.result.then((r) => (r.exitCode !== 0 ? r : new Promise<never>(() => undefined)));
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

  async #line(line: Buffer): Promise<void> {
    if (this.#createBlock) return this.#createLine(line.toString('utf8'));
    const isRow =
      !this.#openStatement &&
      this.#delimiter === ';' &&
      line.subarray(0, INSERT_PREFIX.length).equals(INSERT_PREFIX) &&
      isStatementEnd(line);
    if (isRow) return this.#dataLine(line);
    const text = line.toString('utf8');
    const trimmed = text.trim();
    if (trimmed !== '' && !trimmed.startsWith('--')) this.#openStatement = !trimmed.endsWith(this.#delimiter);
    if (/^(LOCK TABLES|UNLOCK TABLES)\b/i.test(trimmed)) return;
    if (this.#state === 'data') await this.#endData();
    if (this.#inPreamble) {
      if (trimmed === '' || trimmed.startsWith('--') || /^\/\*[!M]/.test(trimmed) || /^SET /i.test(trimmed)) {
        this.#sessionLines.push(text);
      } else {
        this.#inPreamble = false;
      }
    }
    const delimiter = /^DELIMITER\s+(\S+)/i.exec(trimmed);
    if (delimiter) {
      this.#delimiter = delimiter[1]!;
      this.#openStatement = false;
    }
    if (/^(USE|CREATE DATABASE)\s/i.test(trimmed)) {
      // Held-back indexes belong to the current database: add them before it changes.
      await this.#endData();
    }
    if (/^USE\s/i.test(trimmed)) {
      this.#sessionLines.push(text);
      await this.#second?.write(line);
    }
    if (this.#deferIndexes && /^CREATE TABLE `[^`]+` \($/.test(trimmed)) {
      this.#createBlock = [text];
      return;
    }
    await this.#main.write(line);
  }

  /** Buffers a CREATE TABLE to its closing line, then sends it with plain KEYs held back for later. */
  async #createLine(text: string): Promise<void> {
    this.#createBlock!.push(text);
    if (!text.startsWith(')')) return;
    const block = this.#createBlock!;
    this.#createBlock = undefined;
    this.#openStatement = !text.trim().endsWith(this.#delimiter);
    const table = /^CREATE TABLE (`[^`]+`)/.exec(block[0]!.trim())![1]!;
    const body = block.slice(1, -1);
    const tricky = body.some((l) => /\b(CONSTRAINT|FOREIGN KEY|FULLTEXT|SPATIAL|VECTOR)\b/i.test(l));
    const deferred = tricky ? [] : body.filter((l) => /^\s+KEY `[^`]+` \(.*\),?\s*$/.test(l));
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
      if (this.#parallel) {
        // The table must exist before the second connection writes rows into it.
        await this.#main.barrier(this.#nextBarrier(), this.#delimiter);
        this.#second ??= await this.#openSecond();
      }
    }
    // Alternate whole statements, so both connections stay busy.
    this.#sendToSecond = this.#parallel && !this.#sendToSecond;
    await (this.#sendToSecond && this.#second ? this.#second : this.#main).write(line);
  }

  /** The rows are all sent: wait until both connections have them in, then add the held-back indexes. */
  async #endData(): Promise<void> {
    if (this.#state !== 'data' && this.#deferred.size === 0) return;
    this.#state = 'control';
    if (this.#second) await this.#second.barrier(this.#nextBarrier(), ';');
    if (this.#deferred.size > 0 && this.#delimiter === ';') {
      for (const [table, keys] of this.#deferred) {
        await this.#main.write(Buffer.from(`ALTER TABLE ${table} ${keys.join(', ')};\n`));
      }
      this.#deferred.clear();
    }
  }

  async #openSecond(): Promise<Session> {
    const session = new Session(await this.#open());
    await session.write(Buffer.from(this.#sessionLines.join('')));
    return session;
  }

  #nextBarrier(): string {
    this.#barrierCount += 1;
    // Fixed width: no marker is a prefix of another.
    return `myaas-barrier-${String(this.#barrierCount).padStart(9, '0')}`;
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

function isStatementEnd(line: Buffer): boolean {
  let end = line.length;
  while (end > 0 && (line[end - 1] === NEWLINE || line[end - 1] === 0x0d || line[end - 1] === 0x20)) end--;
  return end >= 2 && line[end - 1] === 0x3b && line[end - 2] === 0x29; // ");"
}
