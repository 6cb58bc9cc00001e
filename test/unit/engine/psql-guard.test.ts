import { describe, expect, it } from 'vitest';
import { PsqlScriptGuard } from '../../../controller/engine/postgres/psql-guard.js';
import { UnsafeDumpError } from '../../../controller/engine/unsafe-dump.js';

/** Runs a dump through a guard in pieces of `size` bytes: what reaches psql, or the refusal. */
function guard(dump: string, size = 1 << 20): { passed: string; refused?: UnsafeDumpError } {
  const g = new PsqlScriptGuard();
  const out: Buffer[] = [];
  const bytes = Buffer.from(dump);
  try {
    for (let i = 0; i < bytes.length; i += size) out.push(g.push(bytes.subarray(i, i + size)));
    out.push(g.end());
  } catch (error) {
    if (!(error instanceof UnsafeDumpError)) throw error;
    return { passed: Buffer.concat(out).toString(), refused: error };
  }
  return { passed: Buffer.concat(out).toString() };
}

/** The line psql would run a meta-command from, or undefined when the dump passes. */
const refusedAt = (dump: string) => guard(dump).refused?.line;

const PG_DUMP = [
  '--',
  '-- PostgreSQL database dump',
  '--',
  "SET standard_conforming_strings = 'on';",
  "COMMENT ON TABLE public.t IS 'ends with \\';",
  "CREATE VIEW public.v AS SELECT replace(body, '\\', '/') AS s, E'it\\'s' AS e FROM public.t;",
  "CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $_$ SELECT '\\! x'::text $_$;",
  "CREATE FUNCTION public.g() RETURNS text LANGUAGE sql AS 'SELECT ''it\\''''s''::text';",
  'CREATE TABLE public."odd\\name" (id int); -- a comment \\! with a backslash',
  '/* a comment /* nested */ \\! still in it',
  "   \\! and on the next line */ SELECT B'0101', X'ff', U&'d\\0061t\\+000061';",
  'SELECT 1 \\; SELECT 2;',
  'SELECT ARRAY[1,2,3][1:2], 1::text, :foo, :\'foo\', :"foo";',
  'COPY public.t (id, body) FROM stdin;',
  '1\tC:\\\\dir\\\\file',
  '2\t\\\\! not a command',
  '\\! data too',
  '3\t\\N',
  '\\.x is data',
  ' \\.',
  '\\.',
  'SELECT 3;',
  '',
].join('\n');

describe('PsqlScriptGuard: psql meta-commands in a plain dump', () => {
  it("passes pg_dump's output whole: backslashes in data, strings, identifiers, comments and dollar quotes", () => {
    expect(guard(PG_DUMP)).toEqual({ passed: PG_DUMP });
  });

  it('reads the same whatever the chunks: a byte at a time, and in 7-byte pieces', () => {
    for (const size of [1, 7]) expect(guard(PG_DUMP, size)).toEqual({ passed: PG_DUMP });
    const bad = `${PG_DUMP}\\! touch /tmp/x\n`;
    for (const size of [1, 7, 4096]) expect(guard(bad, size).refused?.line).toBe(23);
  });

  it.each([
    ['\\! touch /tmp/x', '\\!'],
    ["\\copy (select 1) to program 'touch /tmp/x'", '\\copy'],
    ['\\o |touch /tmp/x', '\\o'],
    ['select 1 \\g |touch /tmp/x', '\\g'],
    ['\\w |touch /tmp/x', '\\w'],
    ['\\setenv PAGER touch', '\\setenv'],
    ['\\i /etc/passwd', '\\i'],
    ['\\o /root/.profile', '\\o'],
    ['\\connect other', '\\connect'],
    ['\\set ON_ERROR_STOP 0', '\\set'],
  ])('refuses %j, naming its line and the command; nothing of that line reaches psql', (line, name) => {
    // A byte at a time: the lines before it have gone on, not a byte of its own.
    const { passed, refused } = guard(`CREATE TABLE t (id int);\n${line}\nSELECT 1;\n`, 1);
    expect(passed).toBe('CREATE TABLE t (id int);\n');
    expect(refused?.line).toBe(2);
    expect(refused?.message).toContain(
      `a dump may not run commands: line 2 has the psql meta-command ${name},`,
    );
  });

  it.each([
    ['after a semicolon', 'SELECT 1; \\! touch /tmp/x'],
    ['after SQL with no semicolon', 'SELECT 1 \\! touch /tmp/x'],
    ['after a string', "SELECT 'a' \\! touch /tmp/x"],
    ['after a string that ends in a backslash', "SELECT 'C:\\' \\! touch /tmp/x"],
    ["after '' in a string", "SELECT 'it''s' \\! touch /tmp/x"],
    ['after an E-string with an escaped quote', "SELECT E'it\\'s' \\! touch /tmp/x"],
    ['after a dollar-quoted string', 'SELECT $a$ $b$ \\! $a$ \\! touch /tmp/x'],
    ['after a quoted identifier', 'SELECT 1 AS "a""b" \\! touch /tmp/x'],
    ['after a comment', 'SELECT /* c */ 1 \\! touch /tmp/x'],
    ['after a parameter', 'SELECT $1 \\! touch /tmp/x'],
    ['after a closed nested comment', '/* a /* b */ c */ \\! touch /tmp/x'],
    ['at the start of a line inside a statement', 'SELECT\n\\! touch /tmp/x'],
    ['after a string continued over a carriage return', "SELECT 'a'\r'b' \\! touch /tmp/x"],
    ['after a comment ended by a carriage return', 'SELECT 1 -- c\r\\! touch /tmp/x'],
  ])('finds a meta-command anywhere on a line: %s', (_what, sql) => {
    expect(refusedAt(`${sql}\n`)).toBe(sql.split('\n').length);
  });

  it('does not take text in strings, identifiers or comments for a meta-command', () => {
    for (const sql of [
      "SELECT 'a \\! b';",
      "SELECT E'a\\' \\! b';",
      "SELECT 'a\n\\! b';",
      'SELECT $$ \\! $$;',
      'SELECT $t$ $$ \\! $x$ $t$;',
      'SELECT "\\!";',
      "SELECT U&'\\0041 \\!';",
      "SELECT B'\\!';",
      'SELECT 1; -- \\!',
      '/* \\!\n\\! */ SELECT 1;',
      'SELECT 1 \\; SELECT 2 \\: 3;',
    ])
      expect(guard(`${sql}\n`), sql).toEqual({ passed: `${sql}\n` });
  });

  it('passes COPY ... FROM STDIN data unread up to its \\. line, then reads SQL again', () => {
    const data = ['\\! data', '\\N', "'", '$$', '/*', '\\.x', ' \\.', '\\.\\.'];
    const ok = `COPY t FROM stdin;\n${data.join('\n')}\n\\.\nSELECT 1;\n`;
    expect(guard(ok)).toEqual({ passed: ok });
    expect(refusedAt(`COPY t FROM stdin;\n${data.join('\n')}\n\\.\n\\! touch /tmp/x\n`)).toBe(11);
    // \.\r\n ends the data too, as in psql.
    expect(refusedAt('COPY t FROM stdin;\r\n1\r\n\\.\r\n\\! touch /tmp/x\n')).toBe(4);
  });

  it('knows COPY ... FROM STDIN in every spelling, and only that', () => {
    const data = "1\t\\! x\n'\n\\.\n";
    for (const copy of [
      'copy t from STDIN;',
      'COPY public.t (a, b) FROM stdin WITH (FORMAT csv);',
      'COPY t\n  FROM\n  stdin;',
      'COPY /* c */ t FROM -- c\n stdin;',
      'SELECT 1 \\; COPY t FROM stdin;',
    ])
      expect(guard(`${copy}\n${data}SELECT 1;\n`), copy).toEqual({ passed: `${copy}\n${data}SELECT 1;\n` });
    // Not COPY IN: what follows is SQL, and its meta-command is refused.
    for (const copy of [
      'COPY (SELECT * FROM stdin) TO STDOUT;',
      "COPY t FROM '/tmp/file';",
      'SELECT 1 FROM stdin;',
      "SELECT 'COPY t FROM stdin;';",
      'COPY t TO stdout;',
      // In a function body (BEGIN ATOMIC ... END) a semicolon does not end the statement.
      'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; COPY t FROM stdin; END;',
      'CREATE OR REPLACE PROCEDURE p() BEGIN ATOMIC SELECT CASE WHEN true THEN 1 END; COPY t FROM stdin; END;',
    ])
      expect(refusedAt(`${copy}\n\\! touch /tmp/x\n`), copy).toBe(copy.split('\n').length + 1);
  });

  it('reads the rest of a line after its COPY before the data, and each COPY on a line its own data', () => {
    expect(refusedAt('COPY t FROM stdin; \\! touch /tmp/x\n1\n\\.\n')).toBe(1);
    const two = 'COPY a FROM stdin; COPY b FROM stdin;\n\\! a\n\\.\n\\! b\n\\.\nSELECT 1;\n';
    expect(guard(two)).toEqual({ passed: two });
    expect(refusedAt('COPY a FROM stdin \\; COPY b FROM stdin;\n1\n\\.\n2\n\\.\n\\! x\n')).toBe(6);
  });

  it("blanks pg_dump's own \\restrict and \\unrestrict lines, and nothing like them", () => {
    const dump = 'SELECT 1;\n\\restrict Abc123\nSELECT 2;\n\\unrestrict Abc123\n';
    expect(guard(dump)).toEqual({ passed: 'SELECT 1;\n\nSELECT 2;\n\n' });
    // In COPY data it is data.
    const copy = 'COPY t FROM stdin;\n\\restrict Abc123\n\\.\n';
    expect(guard(copy)).toEqual({ passed: copy });
    for (const line of [
      '\\restrict abc ; \\! x',
      '\\restrict',
      'SELECT 1; \\restrict abc',
      ' \\restrict abc',
    ])
      expect(refusedAt(`${line}\n`), line).toBe(1);
  });

  it("refuses psql's own variables (psql reads their values as SQL), not slices or typecasts", () => {
    expect(guard('SELECT :VERSION;\n').refused?.message).toMatch(/line 1 has the psql variable :VERSION/);
    expect(refusedAt('SELECT 1 FROM t WHERE x = :DBNAME;\n')).toBe(1);
    const fine = 'SELECT a[1:2], a[1:n], 1::int, :\'x\', :"y", :{?z};\n';
    expect(guard(fine)).toEqual({ passed: fine });
  });

  it('refuses a NUL byte anywhere (psql stops reading the line there)', () => {
    expect(refusedAt("SELECT 1; \0'\n\\! touch /tmp/x\n")).toBe(1);
    expect(refusedAt('COPY t FROM stdin;\nab\0c\n\\.\n')).toBe(2);
  });

  it('passes a last line without a newline, and checks it', () => {
    expect(guard('SELECT 1;\nSELECT 2;')).toEqual({ passed: 'SELECT 1;\nSELECT 2;' });
    expect(refusedAt('SELECT 1;\n\\! x')).toBe(2);
  });

  it('streams long COPY data lines without holding them whole', () => {
    const g = new PsqlScriptGuard();
    expect(g.push(Buffer.from('COPY t FROM stdin;\n')).toString()).toBe('COPY t FROM stdin;\n');
    expect(g.push(Buffer.from('1\tabcdef')).toString()).toBe('1\tabcdef');
    expect(g.push(Buffer.from('ghi\n\\.')).toString()).toBe('ghi\n');
    expect(g.push(Buffer.from('\nSELECT 1;\n')).toString()).toBe('\\.\nSELECT 1;\n');
  });
});
