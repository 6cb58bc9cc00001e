import { MAY_NOT_RUN_COMMANDS, UnsafeDumpError } from '../unsafe-dump.js';

/**
 * psql's own reading of SQL text (src/fe_utils/psqlscan.l, PostgreSQL 14 to 18), as far as it decides
 * what a meta-command is: a backslash outside quoted text, comments and COPY data is one, wherever it
 * is on the line. Like psql it works a line at a time (psql's lexer never sees the newline between two
 * lines) and keeps its state from one line to the next: quoted text, comments, parentheses, the
 * BEGIN ... END of a function body, and the statement so far (is it a COPY ... FROM STDIN, whose data
 * psql reads from the following lines?).
 *
 * It reads plain strings ('...') as psql does with standard_conforming_strings on (pg_dump sets it,
 * and it is the server default) and the text as UTF-8 or another encoding in which no byte of a
 * multibyte character is a quote or a backslash; see PsqlScriptGuard for what covers the rest.
 */

type State = 'initial' | 'xc' | 'xq' | 'xe' | 'xus' | 'xb' | 'xh' | 'xd' | 'xui' | 'xdolq' | 'xqs';

const QUOTE = 0x27;
const DQUOTE = 0x22;
const BACKSLASH = 0x5c;
const DOLLAR = 0x24;
const CR = 0x0d;

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
/** [A-Za-z\200-\377_] */
const isIdentStart = (c: number | undefined) =>
  c !== undefined && ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c >= 0x80 || c === 0x5f);
/** [A-Za-z\200-\377_0-9$] */
const isIdentCont = (c: number | undefined) => isIdentStart(c) || isDigit(c) || c === DOLLAR;
/** psql's variable_char: [A-Za-z\200-\377_0-9] */
const isVariableChar = (c: number | undefined) => isIdentStart(c) || isDigit(c);
const isSpace = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0a || c === CR || c === 0x0c;
const isHorizSpace = (c: number | undefined) => c === 0x20 || c === 0x09 || c === 0x0c;
const lower = (word: string) => word.replace(/[A-Z]/g, (c) => c.toLowerCase());

/** pg_dump's own meta-commands (since 13.22, 14.19, 15.14, 16.10, 17.6), each alone on its line. */
const PG_DUMP_RESTRICT = /^\\(?:un)?restrict[ \t]+[A-Za-z0-9]+[ \t\r]*$/;

/** What one line held, for the guard: a line to blank, or the COPY ... FROM STDIN statements it ended. */
export type LineResult = { readonly blank: true } | { readonly blank: false; readonly copies: number };

/** The statement in psql's query buffer so far: enough to tell a COPY ... FROM STDIN. */
class Statement {
  first: string | undefined;
  tokens = 0;
  #afterFrom = false;
  copyIn = false;

  /** A token at the statement's top level (`word`: an identifier), or nested in parentheses. */
  token(word: string | undefined, topLevel: boolean): void {
    const w = word === undefined ? undefined : lower(word);
    if (this.tokens === 0) this.first = w ?? '';
    this.tokens += 1;
    if (topLevel && this.#afterFrom && w === 'stdin' && this.first === 'copy') this.copyIn = true;
    this.#afterFrom = topLevel && w === 'from';
  }
}

export class PsqlLexer {
  #state: State = 'initial';
  #beforeStrStop: State = 'xq';
  #xcDepth = 0;
  #dolqTag = '';
  #parenDepth = 0;
  #beginDepth = 0;
  #identifierCount = 0;
  #identifiers: string[] = [];
  #statement = new Statement();
  /** COPY ... FROM STDIN statements sent with `\;` inside the query buffer not yet sent. */
  #bufferedCopies = 0;
  #line = 0;
  #copies = 0;

  /** Lexes one line (without its newline); throws UnsafeDumpError at a meta-command. */
  line(text: Buffer, lineNumber: number): LineResult {
    this.#line = lineNumber;
    this.#copies = 0;
    if (
      (this.#state === 'initial' || this.#state === 'xqs') &&
      text[0] === BACKSLASH &&
      PG_DUMP_RESTRICT.test(text.toString('latin1'))
    ) {
      this.#state = 'initial';
      return { blank: true };
    }
    let i = 0;
    while (i < text.length) i = this.#step(text, i);
    return { blank: false, copies: this.#copies };
  }

  #step(b: Buffer, i: number): number {
    switch (this.#state) {
      case 'initial':
        return this.#initial(b, i);
      case 'xq':
      case 'xus':
        return this.#plainString(b, i);
      case 'xe':
        return this.#escapeString(b, i);
      case 'xb':
      case 'xh':
        return this.#bitString(b, i);
      case 'xd':
      case 'xui':
        return this.#quotedIdentifier(b, i);
      case 'xdolq':
        return this.#dollarQuoted(b, i);
      case 'xc':
        return this.#comment(b, i);
      case 'xqs':
        return this.#quoteStop(b, i);
    }
  }

  /** `'...'` (standard_conforming_strings on) and `U&'...'`: only '' escapes a quote. */
  #plainString(b: Buffer, i: number): number {
    const q = b.indexOf(QUOTE, i);
    if (q < 0) return b.length;
    if (b[q + 1] === QUOTE) return q + 2;
    return this.#endQuote(q + 1);
  }

  /** `E'...'`: a backslash takes the next character with it, whatever it is. */
  #escapeString(b: Buffer, i: number): number {
    for (let k = i; k < b.length; k++) {
      if (b[k] === BACKSLASH) {
        k += 1;
      } else if (b[k] === QUOTE) {
        if (b[k + 1] === QUOTE) {
          k += 1;
          continue;
        }
        return this.#endQuote(k + 1);
      }
    }
    return b.length;
  }

  /** `B'...'`, `X'...'`: up to the next quote. */
  #bitString(b: Buffer, i: number): number {
    const q = b.indexOf(QUOTE, i);
    return q < 0 ? b.length : this.#endQuote(q + 1);
  }

  #endQuote(next: number): number {
    this.#beforeStrStop = this.#state;
    this.#state = 'xqs';
    return next;
  }

  /** `"..."`, `U&"..."`: "" escapes a double quote. */
  #quotedIdentifier(b: Buffer, i: number): number {
    const q = b.indexOf(DQUOTE, i);
    if (q < 0) return b.length;
    if (b[q + 1] === DQUOTE) return q + 2;
    this.#state = 'initial';
    return q + 1;
  }

  /** `$tag$ ... $tag$`: nothing inside counts. */
  #dollarQuoted(b: Buffer, i: number): number {
    const d = b.indexOf(DOLLAR, i);
    if (d < 0) return b.length;
    const delimiter = dollarDelimiter(b, d);
    if (delimiter > 0) {
      if (b.toString('latin1', d, d + delimiter) === this.#dolqTag) {
        this.#state = 'initial';
        return d + delimiter;
      }
      // psql puts the last $ back: it may open the delimiter that ends the string.
      return d + delimiter - 1;
    }
    return d + Math.max(1, dollarFailed(b, d));
  }

  /** `/* ... *\/`, nested. */
  #comment(b: Buffer, i: number): number {
    for (let k = i; k < b.length; k++) {
      if (b[k] === 0x2f && b[k + 1] === 0x2a) {
        this.#xcDepth += 1;
        k += 1;
      } else if (b[k] === 0x2a) {
        while (b[k + 1] === 0x2a) k += 1;
        if (b[k + 1] !== 0x2f) continue;
        if (this.#xcDepth <= 0) {
          this.#state = 'initial';
          return k + 2;
        }
        this.#xcDepth -= 1;
        k += 1;
      }
    }
    return b.length;
  }

  /**
   * After a closing quote: whitespace holding a newline, then a quote, continue the string (SQL's
   * continuation of literals). The newline between two lines is not in psql's line, so only a
   * carriage return inside a line can make one.
   */
  #quoteStop(b: Buffer, i: number): number {
    let k = i;
    for (;;) {
      if (isHorizSpace(b[k])) k += 1;
      else if (b[k] === 0x2d && b[k + 1] === 0x2d) k = commentEnd(b, k);
      else break;
    }
    if (b[k] === CR) {
      k += 1;
      for (;;) {
        if (isSpace(b[k])) k += 1;
        else if (b[k] === 0x2d && b[k + 1] === 0x2d && b[commentEnd(b, k)] === CR) k = commentEnd(b, k) + 1;
        else break;
      }
      if (b[k] === QUOTE) {
        this.#state = this.#beforeStrStop;
        return k + 1;
      }
    }
    this.#state = 'initial';
    return i;
  }

  /** Outside quoted text and comments: one token. */
  #initial(b: Buffer, i: number): number {
    const c = b[i]!;
    const next = b[i + 1];
    if (isSpace(c)) return i + 1;
    if (c === 0x2d && next === 0x2d) return commentEnd(b, i);
    if (c === 0x2f && next === 0x2a) {
      this.#state = 'xc';
      this.#xcDepth = 0;
      return i + 2;
    }
    if (next === QUOTE || (next === 0x26 && (c === 0x55 || c === 0x75))) {
      const prefixed = this.#prefixedQuote(b, i);
      if (prefixed !== undefined) return prefixed;
    }
    if (c === QUOTE) return this.#open('xq', i + 1);
    if (c === DQUOTE) return this.#open('xd', i + 1);
    if (c === DOLLAR) return this.#dollar(b, i);
    if (c === 0x3a) return this.#colon(b, i);
    if (c === BACKSLASH) return this.#backslash(b, i);
    if (c === 0x28 || c === 0x29 || c === 0x3b) return this.#punctuation(c, i);
    if (isDigit(c) || (c === 0x2e && isDigit(next))) return this.#number(b, i);
    if (isIdentStart(c)) return this.#identifier(b, i);
    this.#token(undefined);
    return i + 1;
  }

  /** B'...', X'...', E'...', N'...' (a plain string after the N), U&'...', U&"...", or undefined. */
  #prefixedQuote(b: Buffer, i: number): number | undefined {
    const c = b[i]! | 0x20;
    if (b[i + 1] === QUOTE) {
      if (c === 0x62) return this.#open('xb', i + 2);
      if (c === 0x78) return this.#open('xh', i + 2);
      if (c === 0x65) return this.#open('xe', i + 2);
      if (c === 0x6e) return i + 1;
      return undefined;
    }
    // U& followed by a quote or double quote; U& alone is the letter U, then the operator &.
    if (b[i + 2] === QUOTE) return this.#open('xus', i + 3);
    if (b[i + 2] === DQUOTE) return this.#open('xui', i + 3);
    this.#token(undefined);
    return i + 1;
  }

  #open(state: State, next: number): number {
    this.#token(undefined);
    this.#state = state;
    return next;
  }

  /** $tag$ opens a dollar-quoted string; $1 is a parameter; any other $ stands alone. */
  #dollar(b: Buffer, i: number): number {
    const delimiter = dollarDelimiter(b, i);
    if (delimiter > 0) {
      this.#dolqTag = b.toString('latin1', i, i + delimiter);
      return this.#open('xdolq', i + delimiter);
    }
    this.#token(undefined);
    let k = i + 1;
    while (isDigit(b[k])) k += 1;
    return k;
  }

  /** `::`, `:=`, and psql's variables: :name is replaced by its value, which psql reads again. */
  #colon(b: Buffer, i: number): number {
    this.#token(undefined);
    const next = b[i + 1];
    if (next === 0x3a || next === 0x3d) return i + 2;
    if (next === QUOTE || next === DQUOTE) {
      let k = i + 2;
      while (isVariableChar(b[k])) k += 1;
      return k > i + 2 && b[k] === next ? k + 1 : i + 1;
    }
    if (next === 0x7b && b[i + 2] === 0x3f) {
      let k = i + 3;
      while (isVariableChar(b[k])) k += 1;
      return k > i + 3 && b[k] === 0x7d ? k + 1 : i + 1;
    }
    let k = i + 1;
    while (isVariableChar(b[k])) k += 1;
    const name = b.toString('latin1', i + 1, k);
    // psql's own variables (VERSION, DBNAME, ...) are upper case; their values are read as SQL again.
    if (/^[A-Z_][A-Z0-9_]*$/.test(name) && /[A-Z]/.test(name)) {
      throw new UnsafeDumpError(
        `line ${this.#line} has the psql variable :${name}: psql would put its value into the dump and read it as part of it; a dump may not use psql's variables`,
        this.#line,
      );
    }
    return k;
  }

  /** `\;` and `\:` are SQL to psql; any other backslash starts a meta-command. */
  #backslash(b: Buffer, i: number): number {
    const next = b[i + 1];
    if (next === 0x3b) {
      // A semicolon that does not send the query buffer: the statements it holds run one by one.
      if (this.#statement.copyIn) this.#bufferedCopies += 1;
      this.#statement = new Statement();
      this.#identifierCount = 0;
      return i + 2;
    }
    if (next === 0x3a) {
      this.#token(undefined);
      return i + 2;
    }
    const name = /^\\([A-Za-z]+|[^\sA-Za-z]?)/.exec(b.toString('latin1', i, i + 40))?.[0] ?? '\\';
    throw new UnsafeDumpError(
      `${MAY_NOT_RUN_COMMANDS}: line ${this.#line} has the psql meta-command ${name}, which psql would run where the import runs; imports refuse psql meta-commands (they run programs, and read and write files), pg_dump's own \\restrict and \\unrestrict lines excepted`,
      this.#line,
    );
  }

  #punctuation(c: number, i: number): number {
    this.#token(undefined);
    if (c === 0x28) {
      this.#parenDepth += 1;
    } else if (c === 0x29) {
      if (this.#parenDepth > 0) this.#parenDepth -= 1;
    } else if (this.#parenDepth === 0 && this.#beginDepth === 0) {
      // A semicolon that ends the statement: psql sends it, and reads a COPY's data from the next line.
      this.#copies += this.#bufferedCopies + (this.#statement.copyIn ? 1 : 0);
      this.#bufferedCopies = 0;
      this.#statement = new Statement();
      this.#identifierCount = 0;
    }
    return i + 1;
  }

  /** 1, 1.5, .5, 1e5, and letters stuck to them. */
  #number(b: Buffer, i: number): number {
    this.#token(undefined);
    let k = i;
    while (isDigit(b[k])) k += 1;
    if (b[k] === 0x2e && b[k + 1] !== 0x2e) {
      k += 1;
      while (isDigit(b[k])) k += 1;
    }
    if ((b[k] === 0x65 || b[k] === 0x45) && (isDigit(b[k + 1]) || (isSign(b[k + 1]) && isDigit(b[k + 2])))) {
      k += isDigit(b[k + 1]) ? 1 : 2;
      while (isDigit(b[k])) k += 1;
    }
    if (!isIdentStart(b[k])) return k;
    // Letters right after a number (1e'x', 1ae'x', 0x1F, 1_000): psql 14 reads 1e'x' as 1 and an
    // E-string, 15 as the junk 1e and a plain string, 16 on as the junk 1ae and a plain string. The
    // kind of string after them decides where it ends: refused when a quote follows.
    let m = k;
    while (isIdentCont(b[m])) m += 1;
    if (b[m] === QUOTE) {
      throw new UnsafeDumpError(
        `line ${this.#line} has a number directly followed by letters and a quote (${b.toString('latin1', i, m + 1)}), which psql versions read differently; a dump may not hold it`,
        this.#line,
      );
    }
    return m;
  }

  /**
   * An identifier or keyword. psql counts BEGIN ... END (and CASE ... END inside them) in the body of
   * CREATE [OR REPLACE] FUNCTION|PROCEDURE, where a semicolon does not end the statement.
   */
  #identifier(b: Buffer, i: number): number {
    let k = i + 1;
    while (isIdentCont(b[k])) k += 1;
    const word = b.toString('latin1', i, k);
    const w = lower(word);
    this.#token(word);
    if (this.#identifierCount === 0) this.#identifiers = [];
    if (['create', 'function', 'procedure', 'or', 'replace'].includes(w) && this.#identifierCount < 4)
      this.#identifiers[this.#identifierCount] = w[0]!;
    this.#identifierCount += 1;
    const [a, b1, c, d] = this.#identifiers;
    const routine =
      a === 'c' && (b1 === 'f' || b1 === 'p' || (b1 === 'o' && c === 'r' && (d === 'f' || d === 'p')));
    if (routine && this.#parenDepth === 0) {
      if (w === 'begin') this.#beginDepth += 1;
      else if (w === 'case' && this.#beginDepth >= 1) this.#beginDepth += 1;
      else if (w === 'end' && this.#beginDepth > 0) this.#beginDepth -= 1;
    }
    return k;
  }

  #token(word: string | undefined): void {
    this.#statement.token(word, this.#parenDepth === 0);
  }
}

const isSign = (c: number | undefined) => c === 0x2b || c === 0x2d;

/** `--` to the end of the line or a carriage return (psql's comment). */
function commentEnd(b: Buffer, i: number): number {
  let k = i + 2;
  while (k < b.length && b[k] !== CR) k += 1;
  return k;
}

/** The length of `$tag$` (or `$$`) at i, or 0. */
function dollarDelimiter(b: Buffer, i: number): number {
  let k = i + 1;
  if (isIdentStart(b[k])) {
    k += 1;
    while (isVariableChar(b[k])) k += 1;
  }
  return b[k] === DOLLAR ? k + 1 - i : 0;
}

/** The length of `$tag` not closed by a `$`, or 0. */
function dollarFailed(b: Buffer, i: number): number {
  if (!isIdentStart(b[i + 1])) return 0;
  let k = i + 2;
  while (isVariableChar(b[k])) k += 1;
  return k - i;
}
