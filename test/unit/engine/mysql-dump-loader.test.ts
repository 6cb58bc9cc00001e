import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { MysqlDumpLoader } from '../../../controller/engine/mariadb/mysql-dump-loader.js';
import type { ExecResult, ExecSession } from '../../../controller/engine/sessions.js';
import { silentLogger } from '../../../controller/log.js';
import { FakeSession } from '../../support/fakes.js';

const DUMP = `-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
/*!40101 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
DROP TABLE IF EXISTS \`orders\`;
CREATE TABLE \`orders\` (
  \`id\` int(11) NOT NULL,
  \`customer_id\` int(11) NOT NULL,
  PRIMARY KEY (\`id\`),
  KEY \`customer_id\` (\`customer_id\`),
  KEY \`both\` (\`customer_id\`,\`id\`)
) ENGINE=InnoDB;
LOCK TABLES \`orders\` WRITE;
/*!40000 ALTER TABLE \`orders\` DISABLE KEYS */;
INSERT INTO \`orders\` VALUES (1,1),(2,2);
INSERT INTO \`orders\` VALUES (3,3);
INSERT INTO \`orders\` VALUES (4,4);
/*!40000 ALTER TABLE \`orders\` ENABLE KEYS */;
UNLOCK TABLES;
CREATE TABLE \`child\` (
  \`id\` int(11) NOT NULL,
  KEY \`fk\` (\`id\`),
  CONSTRAINT \`fk\` FOREIGN KEY (\`id\`) REFERENCES \`orders\` (\`id\`)
) ENGINE=InnoDB;
DELIMITER ;;
CREATE PROCEDURE \`p\`()
BEGIN
INSERT INTO \`orders\` VALUES (9,9);
END ;;
DELIMITER ;
CREATE VIEW \`v\` AS
INSERT INTO \`orders\` VALUES (8,8);
`;

async function load(text: string, sessions: FakeSession[]) {
  let next = 0;
  const loader = new MysqlDumpLoader(async () => sessions[next++]!, silentLogger);
  const result = await loader.load(Readable.from([Buffer.from(text)]));
  return { result, loader, opened: next };
}

describe('MysqlDumpLoader', () => {
  it('streams hand-written SQL unchanged through one client', async () => {
    const one = new FakeSession();
    const sql =
      'CREATE TABLE t (id INT);\nINSERT INTO `t` VALUES (1);\nDELIMITER ;;\nCREATE TRIGGER x BEFORE INSERT ON t FOR EACH ROW BEGIN END;;\nDELIMITER ;\n';
    const { result, loader, opened } = await load(sql, [one]);
    expect(result.exitCode).toBe(0);
    expect(opened).toBe(1);
    expect(loader.rearranged).toBe(false);
    expect(`${one.received.join('\n')}\n`).toBe(sql);
  });

  it('splits the rows of a mysqldump/mariadb-dump file over two clients, in a safe order', async () => {
    const main = new FakeSession();
    const second = new FakeSession();
    const { result, loader, opened } = await load(DUMP, [main, second]);
    expect(result.exitCode).toBe(0);
    expect(opened).toBe(2);
    expect(loader.rearranged).toBe(true);
    const rowsOf = (s: FakeSession) =>
      s.received.filter((l) => /^INSERT INTO `orders` VALUES \([1-4],/.test(l));
    // Every row exactly once, spread over both clients.
    expect([...rowsOf(main), ...rowsOf(second)].sort()).toEqual([
      'INSERT INTO `orders` VALUES (1,1),(2,2);',
      'INSERT INTO `orders` VALUES (3,3);',
      'INSERT INTO `orders` VALUES (4,4);',
    ]);
    expect(rowsOf(main).length).toBeGreaterThan(0);
    expect(rowsOf(second).length).toBeGreaterThan(0);
    // The second client gets the session settings first, then only rows and barriers.
    expect(second.received.slice(0, 3)).toEqual([
      '-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)',
      '/*!40101 SET NAMES utf8mb4 */;',
      '/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;',
    ]);
    expect(
      second.received
        .slice(3)
        .every((l) => l.startsWith('INSERT INTO') || l.startsWith("SELECT 'myaas-barrier-")),
    ).toBe(true);
    // LOCK TABLES would make the clients wait on each other: dropped.
    expect(main.received.some((l) => /LOCK TABLES/.test(l))).toBe(false);
    // Plain KEYs come after the rows; a table with foreign keys keeps its own.
    const create = main.received.slice(
      main.received.indexOf('CREATE TABLE `orders` ('),
      main.received.indexOf(') ENGINE=InnoDB;') + 1,
    );
    expect(create).toEqual([
      'CREATE TABLE `orders` (',
      '  `id` int(11) NOT NULL,',
      '  `customer_id` int(11) NOT NULL,',
      '  PRIMARY KEY (`id`)',
      ') ENGINE=InnoDB;',
    ]);
    const alter = main.received.indexOf(
      'ALTER TABLE `orders` ADD KEY `customer_id` (`customer_id`), ADD KEY `both` (`customer_id`,`id`);',
    );
    expect(alter).toBeGreaterThan(main.received.lastIndexOf('INSERT INTO `orders` VALUES (1,1),(2,2);'));
    expect(main.received).toContain('  KEY `fk` (`id`),');
    // Rows inside a routine body or a multi-line statement stay where they are, in the first client.
    expect(main.received).toContain('INSERT INTO `orders` VALUES (9,9);');
    expect(main.received).toContain('INSERT INTO `orders` VALUES (8,8);');
    expect(second.received).not.toContain('INSERT INTO `orders` VALUES (9,9);');
    // Before the second client writes rows, the first one has created the table (a barrier acknowledged).
    const firstBarrier = main.received.findIndex((l) => l.startsWith("SELECT 'myaas-barrier-"));
    expect(firstBarrier).toBeGreaterThan(main.received.indexOf(') ENGINE=InnoDB;'));
  });

  it('sends the same lines whatever the size of the chunks the dump arrives in', async () => {
    // A long row line spans many chunks: it is joined once, when its newline comes.
    const long = `INSERT INTO \`orders\` VALUES ${Array.from({ length: 400 }, (_, i) => `(${i + 10},${i})`).join(',')};`;
    const text = DUMP.replace('INSERT INTO `orders` VALUES (4,4);', long);
    const linesWith = async (chunkSize: number) => {
      const sessions = [new FakeSession(), new FakeSession()];
      let next = 0;
      const loader = new MysqlDumpLoader(async () => sessions[next++]!, silentLogger);
      const bytes = Buffer.from(text);
      const chunks: Buffer[] = [];
      // The first chunk carries the header line (a dump is recognised by its first chunk, 64 KiB from a file).
      const head = Math.max(chunkSize, 20);
      chunks.push(bytes.subarray(0, head));
      for (let at = head; at < bytes.length; at += chunkSize) chunks.push(bytes.subarray(at, at + chunkSize));
      expect((await loader.load(Readable.from(chunks))).exitCode).toBe(0);
      return sessions.map((s) => s.received);
    };
    const whole = await linesWith(text.length);
    expect(whole[0]!.length + whole[1]!.length).toBeGreaterThan(20);
    expect([...whole[0]!, ...whole[1]!]).toContain(long);
    for (const size of [1, 7, 64, 100, 1000, 4096]) expect(await linesWith(size)).toEqual(whole);
  });

  it('reports the failing client when one stops on an SQL error', async () => {
    const main = new FakeSession();
    const second = new FakeSession(/VALUES \(3,3\)|VALUES \(4,4\)/);
    const { result } = await load(DUMP, [main, second]);
    expect(result.exitCode).toBe(1);
    expect(result.output).toContain('ERROR 1064');
  });

  it('adds held-back indexes before the dump switches to another database', async () => {
    const main = new FakeSession();
    const second = new FakeSession();
    const dump = `-- MySQL dump 10.13
USE \`a\`;
CREATE TABLE \`t\` (
  \`id\` int NOT NULL,
  KEY \`k\` (\`id\`)
) ENGINE=InnoDB;
USE \`b\`;
CREATE TABLE \`t\` (
  \`id\` int NOT NULL
) ENGINE=InnoDB;
`;
    const { result } = await load(dump, [main, second]);
    expect(result.exitCode).toBe(0);
    const alter = main.received.indexOf('ALTER TABLE `t` ADD KEY `k` (`id`);');
    expect(alter).toBeGreaterThan(main.received.indexOf('USE `a`;'));
    expect(alter).toBeLessThan(main.received.indexOf('USE `b`;'));
  });

  it('reports why a client quit even when the broken pipe comes before its exit', async () => {
    // A real client that quits: the next write fails (EPIPE) at once, its exit is seen a little later.
    const stdin = new PassThrough();
    let quit: (r: ExecResult) => void = () => undefined;
    const session: ExecSession = {
      stdin,
      onOutput: () => undefined,
      result: new Promise((resolve) => {
        quit = resolve;
      }),
      abort: () => stdin.destroy(),
    };
    stdin.on('data', () => {
      stdin.destroy(new Error('write EPIPE'));
      setTimeout(
        () => quit({ exitCode: 1, output: 'ERROR at line 1: Not allowed in the sandbox mode.' }),
        50,
      );
    });
    const loader = new MysqlDumpLoader(async () => session, silentLogger);
    const input = new PassThrough();
    const loaded = loader.load(input);
    input.write('\\! touch /tmp/x\n');
    setTimeout(() => input.end('SELECT 1;\n'), 10);
    expect(await loaded).toEqual({
      exitCode: 1,
      output: 'ERROR at line 1: Not allowed in the sandbox mode.',
    });
  });
});
