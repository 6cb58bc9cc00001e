import { Transform, type TransformCallback } from 'node:stream';

const ARCHIVE_MAGIC = 'PGDMP';
const INSERT = /^\s*(?:INSERT|REPLACE)\s+(?:IGNORE\s+)?INTO\s/i;
const COPY_FROM_STDIN = /^\s*COPY\s.*\sFROM\s+stdin\s*;\s*$/i;
const DELIMITER = /^\s*DELIMITER\s+(\S+)/i;

/**
 * A schema-only import (`spec.import.schemaOnly`): the dump's rows are skipped as it streams past,
 * never loaded. What is skipped: INSERT/REPLACE statements that start a statement while the delimiter
 * is `;` (mariadb-dump writes one per line; one spanning lines is skipped up to its closing `;`), and
 * PostgreSQL `COPY ... FROM stdin;` blocks up to their `\.`. Everything else (tables, views, routines,
 * triggers, sequences, comments) passes unchanged. Every skipped line becomes an empty line, so the
 * client's "at line N" still counts lines of the dump. A PostgreSQL archive passes through untouched:
 * its client restores the schema only by a flag.
 */
export class SchemaOnlyFilter extends Transform {
  #pending = '';
  #first = true;
  #archive = false;
  #delimiter = ';';
  /** Whether the next line starts a statement (the previous one ended with the delimiter). */
  #atStart = true;
  #skipping: 'insert' | 'copy' | undefined;
  /** The tag of the PostgreSQL dollar-quoted string (a function body) the stream is inside, if any. */
  #dollar: string | undefined;
  /** Lines skipped, for the log. */
  skippedLines = 0;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    if (this.#first) {
      this.#first = false;
      this.#archive = chunk.subarray(0, ARCHIVE_MAGIC.length).toString('latin1') === ARCHIVE_MAGIC;
    }
    if (this.#archive) {
      done(null, chunk);
      return;
    }
    // latin1 maps bytes 1:1: a multi-byte character split between chunks is never broken, and the
    // patterns above are ASCII.
    const text = this.#pending + chunk.toString('latin1');
    const lines = text.split('\n');
    this.#pending = lines.pop() ?? '';
    done(null, Buffer.from(lines.map((line) => `${this.#line(line)}\n`).join(''), 'latin1'));
  }

  override _flush(done: TransformCallback): void {
    if (this.#archive || this.#pending === '') {
      done();
      return;
    }
    done(null, Buffer.from(this.#line(this.#pending), 'latin1'));
  }

  /** The line as it goes to the client: itself, or empty when it is part of the rows. */
  #line(line: string): string {
    if (this.#skipping === 'copy') {
      if (line === '\\.' || line === '\\.\r') this.#skipping = undefined;
      return this.#skip();
    }
    if (this.#skipping === 'insert') {
      if (/;\s*$/.test(line)) {
        this.#skipping = undefined;
        this.#atStart = true;
      }
      return this.#skip();
    }
    const trimmed = line.trim();
    const wasQuoted = this.#dollar !== undefined;
    this.#trackDollarQuotes(line);
    // Inside a function body: its statements are the function's, never rows of the dump.
    if (wasQuoted) {
      if (this.#dollar === undefined) this.#atStart = trimmed.endsWith(';');
      return line;
    }
    if (this.#atStart && this.#delimiter === ';') {
      if (COPY_FROM_STDIN.test(line)) {
        this.#skipping = 'copy';
        return this.#skip();
      }
      if (INSERT.test(line)) {
        if (!/;\s*$/.test(line)) this.#skipping = 'insert';
        return this.#skip();
      }
    }
    const delimiter = DELIMITER.exec(line);
    if (delimiter) {
      this.#delimiter = delimiter[1]!;
      this.#atStart = true;
    } else if (this.#dollar !== undefined) {
      this.#atStart = false;
    } else if (trimmed.startsWith('\\')) {
      // A psql meta-command (\connect, \restrict) is whole on its line.
      this.#atStart = true;
    } else if (
      trimmed === '' ||
      trimmed.startsWith('--') ||
      (trimmed.startsWith('/*') && /\*\/;?$/.test(trimmed))
    ) {
      // Blank lines and comments leave the statement boundary where it was; a `/*!...*/;` line is a
      // whole statement.
      if (trimmed.endsWith(';')) this.#atStart = true;
    } else {
      this.#atStart = trimmed.endsWith(this.#delimiter);
    }
    return line;
  }

  /** Follows `$tag$ ... $tag$` strings across lines (pg_dump writes function bodies so). */
  #trackDollarQuotes(line: string): void {
    const tags = /\$([A-Za-z_][A-Za-z_0-9]*)?\$/g;
    for (let m = tags.exec(line); m; m = tags.exec(line)) {
      const tag = m[0];
      if (this.#dollar === undefined) this.#dollar = tag;
      else if (this.#dollar === tag) this.#dollar = undefined;
    }
  }

  #skip(): string {
    this.skippedLines++;
    return '';
  }
}
