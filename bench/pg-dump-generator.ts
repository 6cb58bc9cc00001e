import { createWriteStream } from 'node:fs';
import { PG_DUMP_PREAMBLE } from '../test/support/dumps.js';

/**
 * Writes a plain-format dump as pg_dump writes it, of about `mib` MiB: tables created bare, rows in
 * COPY blocks, then primary keys and indexes, a view and a trigger; the same shape of data as the
 * MariaDB generator (orders with two secondary indexes, customers with a unique key).
 */
export async function writePostgresDump(file: string, mib: number): Promise<void> {
  const out = createWriteStream(file);
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  await write(`${PG_DUMP_PREAMBLE}
CREATE TABLE public.customers (id integer NOT NULL, email character varying(120) NOT NULL, name character varying(80) NOT NULL, created timestamp without time zone NOT NULL);
CREATE TABLE public.orders (id integer NOT NULL, customer_id integer NOT NULL, status character varying(16) NOT NULL, total numeric(10,2) NOT NULL, created timestamp without time zone NOT NULL, note text NOT NULL);
`);
  const customers = 50_000;
  await write('COPY public.customers (id, email, name, created) FROM stdin;\n');
  for (let i = 1; i <= customers; i++) {
    await write(
      `${i}\tcustomer${i}@example.com\tCustomer ${i}\t2024-01-${String((i % 28) + 1).padStart(2, '0')} 10:00:00\n`,
    );
  }
  await write('\\.\n\n');
  // About 105 bytes a row.
  const orders = Math.round((mib * 1024 * 1024) / 105);
  await write('COPY public.orders (id, customer_id, status, total, created, note) FROM stdin;\n');
  const statuses = ['new', 'paid', 'shipped', 'returned'];
  let chunk = '';
  for (let i = 1; i <= orders; i++) {
    chunk += `${i}\t${(i % customers) + 1}\t${statuses[i % 4]}\t${(i % 10000) / 100}\t2024-02-${String((i % 28) + 1).padStart(2, '0')} 12:${String(i % 60).padStart(2, '0')}:00\tnote for order ${i} with some text\n`;
    if (chunk.length > 1 << 20) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(`${chunk}\\.\n\n`);
  await write(`ALTER TABLE ONLY public.customers ADD CONSTRAINT customers_pkey PRIMARY KEY (id);
ALTER TABLE ONLY public.customers ADD CONSTRAINT customers_email_key UNIQUE (email);
ALTER TABLE ONLY public.orders ADD CONSTRAINT orders_pkey PRIMARY KEY (id);
CREATE INDEX orders_customer_id ON public.orders USING btree (customer_id);
CREATE INDEX orders_status_created ON public.orders USING btree (status, created);
CREATE VIEW public.big_orders AS SELECT id, total FROM public.orders WHERE total > 90;
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.created := now(); RETURN NEW; END; $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON public.orders FOR EACH ROW EXECUTE FUNCTION public.touch();
`);
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}
