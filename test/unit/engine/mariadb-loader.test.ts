import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { MariadbEngine } from '../../../controller/engine/mariadb/index.js';
import { UnsafeDumpError } from '../../../controller/engine/unsafe-dump.js';
import { silentLogger } from '../../../controller/log.js';
import { FakeSession } from '../../support/fakes.js';

const engine = new MariadbEngine();
const endpoint = { host: '127.0.0.1', port: 3306 };
const admin = { user: 'root', password: 's3cret' };
const dir = mkdtempSync(path.join(tmpdir(), 'myaas-mariadb-loader-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const SANDBOX = (line: number) => `ERROR at line ${line}: Not allowed in the sandbox mode.`;

describe("MariaDB dumps: the client's commands that run programs are refused", () => {
  it('runs the client sandboxed: required on the host, where the client has it; loose in a container', () => {
    expect(engine.loader.client(endpoint, admin, 'default', 'sql', 'host').argv).toContain('--sandbox');
    const contained = engine.loader.client(endpoint, admin, 'default', 'sql', 'container').argv;
    // A client without the sandbox (MySQL's, old MariaDB's) ignores it there: the container holds the rest.
    expect(contained).toContain('--loose-sandbox');
    expect(contained).not.toContain('--sandbox');
  });

  it("a dump's clients cannot read local files; only the loader's own LOAD DATA client can", () => {
    for (const place of ['host', 'container'] as const) {
      const dumpClient = engine.loader.client(endpoint, admin, 'default', 'sql', place).argv;
      // The sandbox does not stop LOAD DATA LOCAL INFILE: a dump could read the host's files.
      expect(dumpClient).toContain('--local-infile=0');
      expect(dumpClient.some((a) => a.startsWith('--execute'))).toBe(false);
      const loadData = engine.loader.client(endpoint, admin, 'default', 'sql', place, {
        execute: "LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE `t`;",
      }).argv;
      expect(loadData).toContain('--local-infile=1');
      expect(loadData).toContain("--execute=LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE `t`;");
    }
  });

  it("a dump's LOAD DATA LOCAL INFILE, refused by the client, is an unsafe dump", async () => {
    const session = new FakeSession(
      /^LOAD DATA LOCAL/,
      (line) =>
        `ERROR 4166 (HY000) at line ${line}: The used command is not allowed because the MariaDB server or client has disabled the local infile capability`,
    );
    const error = await engine.loader
      .load(
        Readable.from([
          Buffer.from("CREATE TABLE t (a TEXT);\nLOAD DATA LOCAL INFILE '/etc/shadow' INTO TABLE t;\n"),
        ]),
        async () => session,
        silentLogger,
        'host',
      )
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeDumpError);
    expect(error).toMatchObject({ line: 2 });
    expect((error as Error).message).toMatch(
      /LOAD DATA LOCAL INFILE, \.\.\.\), which the client refused: ERROR 4166/,
    );
  });

  it('a dump the sandbox refused is an unsafe dump, with its line when the dump was not rearranged', async () => {
    const session = new FakeSession(/^\\!/, SANDBOX);
    const load = engine.loader.load(
      Readable.from([Buffer.from('CREATE TABLE t (id INT);\n\\! touch /tmp/x\n')]),
      async () => session,
      silentLogger,
      'host',
    );
    const error = await load.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsafeDumpError);
    expect(error).toMatchObject({ line: 2 });
    expect((error as Error).message).toMatch(
      /^a dump may not run commands: line 2 has a mariadb client command that runs programs or uses files .*: ERROR at line 2: Not allowed in the sandbox mode\.$/,
    );
  });

  it('every connection of a mariadb-dump file is the same sandboxed client; a refusal there has no line', async () => {
    const dump = [
      '-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)',
      'CREATE TABLE `t` (`id` int(11) NOT NULL) ENGINE=InnoDB;',
      'INSERT INTO `t` VALUES (1);',
      'INSERT INTO `t` VALUES (2);',
      'system touch /tmp/x',
      '',
    ].join('\n');
    const sessions = [new FakeSession(/^system/, SANDBOX), new FakeSession()];
    const opened: (string | undefined)[] = [];
    const error = await engine.loader
      .load(
        Readable.from([Buffer.from(dump)]),
        async (format) => {
          opened.push(format);
          return sessions[opened.length - 1]!;
        },
        silentLogger,
        'host',
      )
      .catch((e: unknown) => e);
    expect(opened).toEqual(['sql', 'sql']);
    expect(error).toBeInstanceOf(UnsafeDumpError);
    expect(error).toMatchObject({ line: undefined });
    expect((error as Error).message).toMatch(
      /^a dump may not run commands: the dump has a mariadb client command/,
    );
  });

  it('the process runtime needs a client with the sandbox', async () => {
    for (const [name, text] of [
      ['mariadbd', ''],
      ['mariadb-install-db', ''],
      ['mariadb', 'Usage: mariadb [OPTIONS] [database]\n  --batch  Do not use the history file.'],
    ] as const) {
      const file = path.join(dir, name);
      writeFileSync(file, `#!/bin/sh\necho '${text}'\n`);
      chmodSync(file, 0o755);
    }
    await expect(new MariadbEngine('mariadb', [dir]).host.check()).rejects.toThrow(
      /runtime process needs a client with --sandbox \(MariaDB 10\.5\.25, 10\.6\.18, 10\.11\.8, 11\.0\.6 or later\): .*mariadb has none, and a dump's \\! or system line would run a command on this host; upgrade the client or use --runtime docker/,
    );
  });
});

describe('MariaDB loads: --import-load-data-after', () => {
  const dump = [
    '-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)',
    '/*!40101 SET NAMES utf8mb4 */;',
    "/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;",
    'CREATE TABLE `t` (',
    '  `id` int(11) NOT NULL',
    ') ENGINE=InnoDB;',
    'INSERT INTO `t` VALUES (1),(2);',
    '',
  ].join('\n');

  async function executes(tuning: { loadDataAfterBytes?: number }): Promise<string[]> {
    const executed: string[] = [];
    await engine.loader.load(
      Readable.from([Buffer.from(dump)]),
      async (_format, options) => {
        if (options?.execute === undefined) return new FakeSession();
        executed.push(options.execute);
        const session = new FakeSession();
        // The server's answer to the loader's count of kept rows.
        const result = session.result.then(() => ({ exitCode: 0, output: 'myaas-loaded 2 0\n' }));
        return {
          ...session,
          stdin: session.stdin,
          onOutput: () => undefined,
          abort: () => session.abort(),
          result,
        };
      },
      silentLogger,
      'host',
      tuning,
    );
    return executed;
  }

  it('0 loads every table through LOAD DATA, off (-1) none, the default waits for 1 MiB', async () => {
    expect(await executes({ loadDataAfterBytes: 0 })).toEqual([
      expect.stringContaining('LOAD DATA LOCAL INFILE'),
    ]);
    expect(await executes({ loadDataAfterBytes: -1 })).toEqual([]);
    expect(await executes({})).toEqual([]);
  });
});
