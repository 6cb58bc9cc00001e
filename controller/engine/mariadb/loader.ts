import type { Readable } from 'node:stream';
import type { Logger } from '../../log.js';
import type {
  ClientInvocation,
  ClientPlace,
  Credentials,
  DumpFormat,
  DumpLoader,
  Endpoint,
  LoadTuning,
} from '../engine.js';
import type { ExecResult, ExecSession } from '../sessions.js';
import { MAY_NOT_RUN_COMMANDS, UnsafeDumpError } from '../unsafe-dump.js';
import type { MysqlFlavor } from './flavor.js';
import { LOAD_DATA_FAILED, MysqlDumpLoader } from './mysql-dump-loader.js';

/** Dumps into MariaDB/MySQL: through the engine's own client, mysqldump's output split over two. */
export class MariadbLoader implements DumpLoader {
  constructor(readonly flavor: MysqlFlavor) {}

  serverArgs(memoryMiB: number): string[] {
    return [
      // Nothing of an import needs to survive a crash: a failed import is discarded whole.
      '--skip-log-bin',
      '--innodb-flush-log-at-trx-commit=0',
      '--innodb-doublewrite=0',
      // Bulk loading reads no row twice: the adaptive hash index and the change buffer only cost
      // CPU here (measured by hand: rows ~15% faster). loose: MariaDB 11 dropped the change buffer.
      '--innodb-adaptive-hash-index=0',
      '--loose-innodb-change-buffering=none',
      '--sync-binlog=0',
      `--innodb-buffer-pool-size=${Math.max(128, memoryMiB)}M`,
      // Big extended INSERTs from mysqldump/mariadb-dump must fit in one packet.
      '--max-allowed-packet=1G',
      // Skip host name look-ups: the client connects from inside the container.
      '--skip-name-resolve',
      // The loader's own LOAD DATA LOCAL of converted rows (MySQL's server refuses it by default).
      // The dump's clients never get --local-infile: a dump cannot read the client's files.
      '--local-infile=1',
    ];
  }

  format(): DumpFormat {
    return 'sql';
  }

  parallel(): undefined {
    // One client stream: a dump's statements depend on the session state its header sets.
    return undefined;
  }

  client(
    endpoint: Endpoint,
    admin: Credentials,
    database: string,
    _format: DumpFormat,
    place: ClientPlace,
    options: { execute?: string } = {},
  ): ClientInvocation {
    return {
      argv: [
        // LOAD DATA reads /dev/stdin, which cannot be opened where stdin is a socket (node's
        // child_process pipes are socketpairs): cat gives the client a pipe.
        ...(options.execute === undefined ? [] : ['sh', '-c', 'cat | "$@"', 'sh']),
        this.flavor.client,
        // The client's own commands that run programs or use files (\! and system, source, tee,
        // pager, ...) are refused: a dump is code. On the host the client must have the sandbox
        // (HostServer.check makes sure); in a container, one without it (MySQL's, MariaDB's before
        // 10.5.25 / 10.6.18 / 10.11.8 / 11.0.6) ignores --loose-sandbox and the container holds the rest.
        place === 'host' ? '--sandbox' : '--loose-sandbox',
        `--host=${endpoint.host}`,
        `--port=${endpoint.port}`,
        `--user=${admin.user}`,
        '--max-allowed-packet=1G',
        '--default-character-set=utf8mb4',
        // Output as each statement ends (not when a pipe buffer fills): the loader's barriers read it.
        '--unbuffered',
        // Only the loader's own statement (LOAD DATA of rows it converted) reads a local file. A
        // dump's LOAD DATA LOCAL INFILE would read a file where the client runs (the host, for the
        // process runtime), and the sandbox does not stop it: the dump's clients have it off.
        ...(options.execute === undefined
          ? ['--local-infile=0']
          : ['--local-infile=1', `--execute=${options.execute}`]),
        database,
      ],
      // MYSQL_PWD keeps the password out of the process list; both clients honour it.
      env: { MYSQL_PWD: admin.password },
    };
  }

  async load(
    input: Readable,
    open: (format?: DumpFormat, options?: { execute?: string }) => Promise<ExecSession>,
    log: Logger,
    _place?: ClientPlace,
    tuning: LoadTuning = {},
  ): Promise<{ result: ExecResult; linesValid: boolean }> {
    // Every connection the loader opens is the same sandboxed client.
    const after = tuning.loadDataAfterBytes;
    const loader = new MysqlDumpLoader(
      (execute) => open('sql', execute === undefined ? {} : { execute }),
      log,
      after === undefined ? {} : after < 0 ? { fastRows: false } : { fastRowsAfterBytes: after },
    );
    const result = await loader.load(input);
    const linesValid = !loader.rearranged;
    if (
      result.exitCode !== 0 &&
      SANDBOX_REFUSAL.test(result.output) &&
      !result.output.startsWith(LOAD_DATA_FAILED)
    ) {
      const line = linesValid ? this.errorLine(result.output) : undefined;
      throw new UnsafeDumpError(
        `${MAY_NOT_RUN_COMMANDS}: ${line ? `line ${line} has` : 'the dump has'} a ${this.flavor.client} client command that runs programs or uses files (\\! or system, source, tee, pager, LOAD DATA LOCAL INFILE, ...), which the client refused: ${firstLine(result.output, SANDBOX_REFUSAL)}`,
        line,
      );
    }
    return { result, linesValid };
  }

  errorLine(clientOutput: string): number | undefined {
    const match = /\bat line (\d+)/.exec(clientOutput);
    return match ? Number(match[1]) : undefined;
  }
}

/** What the client says when its sandbox refuses a command, or refuses to read a local file. */
const SANDBOX_REFUSAL =
  /Not allowed in the sandbox mode|disabled the local infile capability|Loading local data is disabled|LOAD DATA LOCAL INFILE file request rejected/;

function firstLine(output: string, pattern: RegExp): string {
  return (
    output
      .split('\n')
      .find((l) => pattern.test(l))
      ?.trim() ?? ''
  );
}
