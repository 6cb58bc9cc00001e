import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import type {
  ClientInvocation,
  ClientPlace,
  Credentials,
  DumpFormat,
  DumpLoader,
  Endpoint,
  ParallelLoad,
} from '../engine.js';
import type { ExecResult, ExecSession } from '../sessions.js';
import { MAY_NOT_RUN_COMMANDS, UnsafeDumpError } from '../unsafe-dump.js';
import { PsqlScriptGuard } from './psql-guard.js';

/** pg_dump's custom format starts with these bytes; everything else is SQL text for psql. */
const ARCHIVE_MAGIC = Buffer.from('PGDMP');
/** pg_dump's plain format says who wrote it in its first lines. */
const PG_DUMP_HEADER = /^-- PostgreSQL database dump$/m;
const HEAD_BYTES = 4096;

/** A `pg_restore --list` line of an item that takes time to restore: its id. */
const SLOW_ITEM =
  /^(\d+); \d+ \d+ (?:TABLE DATA|INDEX|CONSTRAINT|FK CONSTRAINT|MATERIALIZED VIEW DATA|BLOBS?|LARGE OBJECTS?) /;

/** What a dump is, from its first bytes. */
export function dumpFormatOf(head: Buffer): DumpFormat {
  if (head.subarray(0, ARCHIVE_MAGIC.length).equals(ARCHIVE_MAGIC)) return 'archive';
  return PG_DUMP_HEADER.test(head.subarray(0, HEAD_BYTES).toString('utf8')) ? 'tool-sql' : 'sql';
}

/**
 * Dumps into PostgreSQL: plain SQL through psql with ON_ERROR_STOP (pg_dump's own output in one
 * transaction), custom-format archives through pg_restore, streamed or read from the file by jobs.
 */
export class PostgresLoader implements DumpLoader {
  serverArgs(memoryMiB: number, jobs = 1): string[] {
    const half = Math.max(64, Math.floor(memoryMiB / 2));
    // Each parallel restore job may build an index at once: they share the maintenance half.
    const maintenance = Math.max(64, Math.floor(half / Math.max(1, jobs)));
    // Nothing of an import needs to survive a crash: a failed import is discarded whole. These are
    // command-line settings only: the clones start with the datadir's own postgresql.conf.
    // biome-ignore format: option pairs read better one per line
    return [
      '-c', 'fsync=off',
      '-c', 'full_page_writes=off',
      '-c', 'synchronous_commit=off',
      '-c', 'wal_level=minimal',
      '-c', 'max_wal_senders=0',
      '-c', 'archive_mode=off',
      '-c', 'autovacuum=off',
      '-c', 'max_wal_size=8GB',
      '-c', 'checkpoint_timeout=1h',
      '-c', `shared_buffers=${half}MB`,
      '-c', `maintenance_work_mem=${maintenance}MB`,
    ];
  }

  format(head: Buffer): DumpFormat {
    return dumpFormatOf(head);
  }

  parallel(format: DumpFormat, jobs: number): ParallelLoad | undefined {
    // Only archives can be read by several connections; plain SQL is one stream for psql.
    if (format !== 'archive' || jobs < 2) return undefined;
    return {
      list: (file) => ({ argv: ['pg_restore', '--list', file], env: {} }),
      // `--list` prints one line per item ("3382; 0 16390 TABLE DATA public orders postgres"), comments
      // with ';'. Progress counts the items that take the time: data, indexes, constraints.
      listedItem: (line) => SLOW_ITEM.exec(line)?.[1],
      load: (file, endpoint, admin, database) => ({
        argv: [
          'pg_restore',
          '-h',
          endpoint.host,
          '-p',
          String(endpoint.port),
          '-U',
          admin.user,
          '-d',
          database,
          '--exit-on-error',
          '--no-owner',
          '--no-privileges',
          // Without --single-transaction (it excludes --jobs), each table created in this run is
          // loaded in a transaction that starts with TRUNCATE: with wal_level=minimal its COPY still
          // skips the WAL.
          `--jobs=${jobs}`,
          '--verbose',
          file,
        ],
        env: { PGPASSWORD: admin.password },
      }),
      // --verbose says "processing item N" for items done one at a time and "finished item N" for
      // those of the parallel phase; it also processes header items (ENCODING, DATABASE) --list omits.
      // Not anchored: the jobs share stderr and write the "pg_restore: " prefix apart from the
      // message, so prefixes of two processes can meet on one line.
      doneItem: (line) => /\b(?:processing|finished) item (\d+) /.exec(line)?.[1],
      problems: (output) =>
        output
          .split('\n')
          .map((line) => line.replace(/^(?:pg_restore: )+/, 'pg_restore: '))
          .filter((line) => line.trim() && !/^pg_restore: (?!error|warning)/.test(line))
          .join('\n'),
    };
  }

  client(
    endpoint: Endpoint,
    admin: Credentials,
    database: string,
    format: DumpFormat,
    // psql has no switch for its meta-commands: load() checks the dump and, on the host, restricts psql.
    _place: ClientPlace,
    options: { schemaOnly?: boolean } = {},
  ): ClientInvocation {
    const target = ['-h', endpoint.host, '-p', String(endpoint.port), '-U', admin.user];
    // One transaction for what pg_dump wrote: with wal_level=minimal, tables created and loaded in the
    // same transaction skip the WAL. Other SQL runs as `psql -f` would run it (it may hold statements
    // that cannot run in a transaction block).
    const psql = ['psql', ...target, '-d', database, '-v', 'ON_ERROR_STOP=1', '-q', '-X'];
    return {
      argv:
        format === 'archive'
          ? // Owners and grants name roles that exist where the dump was made, not here.
            [
              'pg_restore',
              ...target,
              '-d',
              database,
              '--exit-on-error',
              '--no-owner',
              '--no-privileges',
              '--single-transaction',
              ...(options.schemaOnly ? ['--schema-only'] : []),
            ]
          : format === 'tool-sql'
            ? [...psql, '--single-transaction', '-f', '-']
            : [...psql, '-f', '-'],
      // PGPASSWORD keeps the password out of the process list.
      env: { PGPASSWORD: admin.password },
    };
  }

  async load(
    input: Readable,
    open: (format?: DumpFormat) => Promise<ExecSession>,
    _log: Logger,
    place: ClientPlace,
  ): Promise<{ result: ExecResult; linesValid: boolean }> {
    let session: ExecSession | undefined;
    let feed: PlainFeed | undefined;
    let format = 'sql' as DumpFormat;
    // The first bytes decide the client; they may arrive in pieces smaller than the magic.
    let head = Buffer.alloc(0);
    let exited = false;
    const start = async () => {
      format = dumpFormatOf(head);
      session = await open(format);
      feed = format === 'archive' ? undefined : new PlainFeed(place);
      void session.result.then(
        () => {
          exited = true;
        },
        () => {
          exited = true;
        },
      );
      return session;
    };
    try {
      for await (const piece of input as AsyncIterable<Buffer>) {
        // The client stopped at an error: reading the rest of the dump would only delay saying so.
        if (exited) break;
        let chunk = piece;
        if (!session) {
          head = Buffer.concat([head, piece]);
          if (head.length < HEAD_BYTES) continue;
          await start();
          chunk = head;
        }
        await write(session!, feed ? feed.push(chunk) : chunk);
      }
      if (!session) {
        await start();
        if (head.length > 0) await write(session!, feed ? feed.push(head) : head);
      }
      if (feed && !exited) await write(session!, feed.end());
    } catch (error) {
      // Not a line past the refused one reaches psql, and what it ran goes with the import server.
      if (error instanceof UnsafeDumpError) session?.abort();
      throw error;
    }
    session!.stdin.end();
    const result = await session!.result;
    // psql's own restricted mode refused a meta-command (see PlainFeed).
    if (result.exitCode !== 0 && /backslash commands are restricted/.test(result.output)) {
      const line = this.errorLine(result.output.replace(/: error: /, ': ERROR: '));
      throw new UnsafeDumpError(
        `${MAY_NOT_RUN_COMMANDS}: psql refused a meta-command of the dump${line ? ` at line ${line}` : ''} (it runs restricted): ${result.output.trim().split('\n')[0]}`,
        line,
      );
    }
    return { result, linesValid: format !== 'archive' };
  }

  errorLine(clientOutput: string): number | undefined {
    // psql: "psql:<stdin>:12: ERROR:  ..."
    const match = /psql:[^:\n]*:(\d+): (?:ERROR|FATAL)/.exec(clientOutput);
    return match ? Number(match[1]) : undefined;
  }
}

/** Writes to a client's stdin, waiting when its pipe is full (or the client ended). */
async function write(session: ExecSession, chunk: Buffer): Promise<void> {
  if (chunk.length === 0 || session.stdin.write(chunk)) return;
  await new Promise<void>((resolve) => {
    session.stdin.once('drain', resolve);
    session.result.then(
      () => resolve(),
      () => resolve(),
    );
  });
}

/**
 * A plain dump on its way to psql: through PsqlScriptGuard, which refuses any meta-command. On the
 * host, psql also runs restricted (`\restrict KEY`, psql 13.22, 14.19, 15.14, 16.10, 17.6 or later;
 * HostServer.check makes sure): it then refuses every meta-command itself, whatever the guard could not
 * settle from the text. The key is random and never in the dump's reach; it goes before the dump's
 * first line, ended by `\\`, so psql's line numbers stay the dump's.
 */
class PlainFeed {
  readonly #guard = new PsqlScriptGuard();
  #prefix: Buffer | undefined;

  constructor(place: ClientPlace) {
    if (place === 'host') this.#prefix = Buffer.from(`\\restrict ${randomBytes(24).toString('hex')} \\\\ `);
  }

  push(chunk: Buffer): Buffer {
    return this.#first(this.#guard.push(chunk));
  }

  end(): Buffer {
    return this.#first(this.#guard.end());
  }

  #first(bytes: Buffer): Buffer {
    if (!this.#prefix) return bytes;
    const prefixed = Buffer.concat([this.#prefix, bytes]);
    this.#prefix = undefined;
    return prefixed;
  }
}
