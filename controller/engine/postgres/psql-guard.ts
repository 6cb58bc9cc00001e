import { UnsafeDumpError } from '../unsafe-dump.js';
import { PsqlLexer } from './psql-lexer.js';

const NEWLINE = 0x0a;
const END_OF_DATA = Buffer.from('\\.\n');
const END_OF_DATA_CRLF = Buffer.from('\\.\r\n');

/**
 * The check a plain dump passes on its way to psql: psql runs meta-commands (`\!`, `\copy ... program`,
 * `\o |cmd`, `\g |cmd`, `\w |cmd`, `\setenv`, `\i`, `\o file`, ...) wherever it runs, so any
 * meta-command in a dump fails the import, naming its line, before psql reads that line. Only pg_dump's
 * own `\restrict KEY` / `\unrestrict KEY` lines pass, as empty lines (they only guard psql against the
 * dump itself, and would clash with the controller's own `\restrict` on the host).
 *
 * Lines go through as psql reads them: SQL lines are read by PsqlLexer, the data of each
 * `COPY ... FROM STDIN` up to its `\.` line passes unread (backslashes there are data). A line of
 * COPY data goes on as it arrives; an SQL line once it is whole. A NUL byte is refused: psql stops
 * reading a line there, so it would see other text than this check.
 *
 * What this check cannot settle from the text alone (a dump that turns standard_conforming_strings off,
 * or switches to a client encoding whose multibyte characters can hold a backslash byte, so that psql
 * reads a later line otherwise) is covered by psql itself on the host: the import's psql runs
 * restricted there (PostgresLoader). In a container, it stays in the container.
 */
export class PsqlScriptGuard {
  readonly #lexer = new PsqlLexer();
  /** Lines seen whole (psql's line numbers count COPY data lines too). */
  #lines = 0;
  #partial: Buffer[] = [];
  #partialBytes = 0;
  /** COPY ... FROM STDIN data sections psql will read before the next SQL line. */
  #copies = 0;
  /** A COPY data line was passed on in part: it is not the end-of-data line. */
  #copyLineOpen = false;

  /** The bytes to pass on for this chunk (whole lines, or the start of a COPY data line). */
  push(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline < 0) {
        this.#partialLine(chunk.subarray(start), out);
        break;
      }
      this.#wholeLine(chunk.subarray(start, newline + 1), out);
      start = newline + 1;
    }
    return Buffer.concat(out);
  }

  /** The last line, when the dump does not end with a newline. */
  end(): Buffer {
    if (this.#partialBytes === 0 && !this.#copyLineOpen) return Buffer.alloc(0);
    const out: Buffer[] = [];
    this.#wholeLine(Buffer.alloc(0), out);
    return Buffer.concat(out);
  }

  #partialLine(piece: Buffer, out: Buffer[]): void {
    this.#refuseNul(piece, this.#lines + 1);
    if (
      this.#copies > 0 &&
      (this.#copyLineOpen || this.#partialBytes + piece.length > END_OF_DATA_CRLF.length)
    ) {
      out.push(...this.#takePartial(), piece);
      this.#copyLineOpen = true;
      return;
    }
    this.#partial.push(Buffer.from(piece));
    this.#partialBytes += piece.length;
  }

  #wholeLine(piece: Buffer, out: Buffer[]): void {
    this.#lines += 1;
    this.#refuseNul(piece, this.#lines);
    const line = this.#partialBytes > 0 ? Buffer.concat([...this.#takePartial(), piece]) : piece;
    if (this.#copies > 0) {
      if (!this.#copyLineOpen && (line.equals(END_OF_DATA) || line.equals(END_OF_DATA_CRLF)))
        this.#copies -= 1;
      this.#copyLineOpen = false;
      out.push(line);
      return;
    }
    const text = line.at(-1) === NEWLINE ? line.subarray(0, -1) : line;
    const result = this.#lexer.line(text, this.#lines);
    if (result.blank) {
      out.push(Buffer.from('\n'));
      return;
    }
    this.#copies += result.copies;
    out.push(line);
  }

  #takePartial(): Buffer[] {
    const taken = this.#partial;
    this.#partial = [];
    this.#partialBytes = 0;
    return taken;
  }

  #refuseNul(bytes: Buffer, line: number): void {
    if (bytes.indexOf(0) < 0) return;
    throw new UnsafeDumpError(
      `line ${line} of the dump has a NUL byte: psql stops reading a line there and would read other text than the check that keeps dumps from running commands, so the dump is refused`,
      line,
    );
  }
}
