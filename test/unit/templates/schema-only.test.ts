import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SchemaOnlyFilter } from '../../../controller/templates/schema-only.js';
import { shopDump, shopDumpPostgres } from '../../support/dumps.js';

/** The dump through the filter, in chunks of `size` bytes (lines and characters split anywhere). */
async function filtered(dump: string | Buffer, size = 7): Promise<string> {
  const bytes = Buffer.isBuffer(dump) ? dump : Buffer.from(dump);
  const chunks = Array.from({ length: Math.ceil(bytes.length / size) }, (_, i) =>
    bytes.subarray(i * size, (i + 1) * size),
  );
  const out: Buffer[] = [];
  for await (const chunk of Readable.from(chunks).pipe(new SchemaOnlyFilter())) out.push(chunk as Buffer);
  return Buffer.concat(out).toString('utf8');
}

describe('schema-only filter', () => {
  it('drops the rows of a mariadb-dump, keeps tables, views, triggers and procedures, and every line number', async () => {
    const dump = shopDump(5);
    const out = await filtered(dump);
    expect(out.split('\n')).toHaveLength(dump.split('\n').length);
    expect(out).not.toMatch(/^INSERT INTO `products`/m);
    expect(out).not.toContain("'item-1'");
    for (const kept of [
      'CREATE TABLE `products`',
      'CREATE VIEW `expensive`',
      'CREATE TRIGGER',
      'CREATE PROCEDURE',
    ])
      expect(out).toContain(kept);
    // The trigger's own INSERT (inside DELIMITER ;;) is the trigger's, not a row.
    expect(out).toContain('INSERT INTO `audit` (`note`) VALUES');
    // Line N of the output is line N of the dump wherever it was kept.
    const lines = dump.split('\n');
    out.split('\n').forEach((line, i) => {
      if (line !== '') expect(line).toBe(lines[i]);
    });
  });

  it('drops the COPY blocks of a pg_dump, keeps the function bodies whole, and INSERTs of pg_dump --inserts', async () => {
    const dump = `${shopDumpPostgres(4)}
CREATE TABLE public.orders (id integer, email text);
COPY public.orders (id, email) FROM stdin;
1\talice@corp.example
2\tINSERT INTO looks like SQL but is a row
\\.
ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
CREATE FUNCTION public.log_it() RETURNS trigger
    LANGUAGE plpgsql
    AS $_$
BEGIN
  INSERT INTO public.audit VALUES (1);
  INSERT INTO public.audit VALUES (2);
  RETURN NEW;
END;
$_$;
INSERT INTO public.products VALUES (7, 'inserted', 1);
INSERT INTO public.products VALUES (8, 'multi
line', 1);
\\unrestrict abc
`;
    const out = await filtered(dump, 5);
    expect(out).not.toMatch(/^COPY /m);
    expect(out).not.toContain('alice@corp.example');
    expect(out).not.toContain('looks like SQL');
    expect(out).toContain('CREATE TABLE public.orders (id integer, email text);');
    expect(out).toContain('ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_pkey');
    expect(out).not.toContain('item-1');
    expect(out).not.toMatch(/^\\.$/m);
    expect(out).not.toContain("'inserted'");
    expect(out).not.toContain("line', 1);");
    expect(out).toContain('  INSERT INTO public.audit VALUES (1);\n  INSERT INTO public.audit VALUES (2);');
    expect(out).toContain('CREATE TABLE public.products');
    expect(out).toContain('\\unrestrict abc');
    expect(out.split('\n')).toHaveLength(dump.split('\n').length);
  });

  it('keeps multi-byte text whole across chunk boundaries, and passes a PostgreSQL archive through untouched', async () => {
    const dump = "CREATE TABLE t (v TEXT COMMENT 'été ✓');\nINSERT INTO t VALUES ('ü');\n";
    expect(await filtered(dump, 3)).toBe("CREATE TABLE t (v TEXT COMMENT 'été ✓');\n\n");
    const archive = Buffer.concat([
      Buffer.from('PGDMP\x01\x0e'),
      Buffer.from('\nINSERT INTO x VALUES (1);\n'),
    ]);
    expect(Buffer.from(await filtered(archive, 4), 'utf8').equals(archive)).toBe(true);
  });
});
