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

/**
 * A real client that quits: the first write to it fails (EPIPE) at once, its exit (with `output`)
 * is seen `afterMs` later.
 */
/** One table through LOAD DATA whose client is `failing`; the plain clients accept everything. */
async function loadWithFailingLoadData(failing: ExecSession): Promise<ExecResult> {
  const plain = [new FakeSession(), new FakeSession()];
  let next = 0;
  const loader = new MysqlDumpLoader(
    async (execute) => (execute === undefined ? plain[next++]! : failing),
    silentLogger,
    { fastRowsAfterBytes: 0 },
  );
  return loader.load(Readable.from([Buffer.from(HEADER + TABLE)]));
}

function quitsOnFirstWrite(output: string, afterMs: number): ExecSession {
  const stdin = new PassThrough();
  let quit: (r: ExecResult) => void = () => undefined;
  stdin.on('data', () => {
    stdin.destroy(new Error('write EPIPE'));
    setTimeout(() => quit({ exitCode: 1, output }), afterMs);
  });
  return {
    stdin,
    onOutput: () => undefined,
    result: new Promise((resolve) => {
      quit = resolve;
    }),
    abort: () => stdin.destroy(),
  };
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
    // The second client gets the header's session SETs first (nothing else of the header: a
    // --databases dump's DROP DATABASE there would drop what the first client filled), then only
    // rows and barriers.
    expect(second.received.slice(0, 2)).toEqual([
      '/*!40101 SET NAMES utf8mb4 */;',
      '/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;',
    ]);
    expect(
      second.received
        .slice(2)
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
    const session = quitsOnFirstWrite('ERROR at line 1: Not allowed in the sandbox mode.', 50);
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

/** A client running the loader's LOAD DATA: it keeps the SQL it was given and the text on its stdin. */
class FakeLoadData implements ExecSession {
  readonly stdin = new PassThrough();
  readonly result: Promise<ExecResult>;
  data = '';

  constructor(
    readonly sql: string,
    /** How many rows the server says it kept (default: every line sent). */
    kept?: (sent: number) => number,
  ) {
    this.stdin.on('data', (chunk: Buffer) => {
      this.data += chunk.toString('latin1');
    });
    this.result = new Promise((resolve) => {
      this.stdin.on('end', () => {
        const sent = this.data.split('\n').length - 1;
        const n = kept ? kept(sent) : sent;
        const warnings =
          n === sent ? '' : "Level\tCode\tMessage\nWarning\t1062\tDuplicate entry '1' for key 'PRIMARY'\n";
        resolve({ exitCode: 0, output: `loaded\nmyaas-loaded ${n} ${n === sent ? 0 : 1}\n${warnings}` });
      });
    });
  }

  onOutput(): void {}

  abort(): void {
    this.stdin.destroy();
  }
}

/** A mysqldump header as mysqldump writes it: the fast path needs its SQL_MODE and NAMES. */
const HEADER = `-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
`;

const TABLE = `/*!40101 SET @saved_cs_client     = @@character_set_client */;
/*!40101 SET character_set_client = utf8mb4 */;
CREATE TABLE \`t\` (
  \`id\` int(11) NOT NULL,
  \`name\` varchar(20) DEFAULT NULL,
  PRIMARY KEY (\`id\`)
) ENGINE=InnoDB;
/*!40101 SET character_set_client = @saved_cs_client */;
LOCK TABLES \`t\` WRITE;
/*!40000 ALTER TABLE \`t\` DISABLE KEYS */;
INSERT INTO \`t\` VALUES (1,'a\\tb'),(2,NULL);
INSERT INTO \`t\` VALUES (3,'c');
/*!40000 ALTER TABLE \`t\` ENABLE KEYS */;
UNLOCK TABLES;
`;

async function loadFast(
  text: string,
  options: { after?: number; kept?: (sent: number) => number } = {},
): Promise<{
  result: ExecResult;
  main: FakeSession;
  loads: FakeLoadData[];
  plain: FakeSession[];
  loader: MysqlDumpLoader;
}> {
  const plain = [new FakeSession(), new FakeSession()];
  const loads: FakeLoadData[] = [];
  let next = 0;
  const loader = new MysqlDumpLoader(
    async (execute) => {
      if (execute === undefined) return plain[next++]!;
      const session = new FakeLoadData(execute, options.kept);
      loads.push(session);
      return session;
    },
    silentLogger,
    { fastRowsAfterBytes: options.after ?? 0 },
  );
  const result = await loader.load(Readable.from([Buffer.from(text)]));
  return { result, main: plain[0]!, loads, plain, loader };
}

const rowLines = (s: FakeSession) => s.received.filter((l) => l.startsWith('INSERT INTO `t`'));

describe('MysqlDumpLoader: rows through LOAD DATA', () => {
  it("sends a mysqldump table's rows as LOAD DATA text, with the dump's session settings", async () => {
    const { result, main, loads, plain, loader } = await loadFast(HEADER + TABLE);
    expect(result.exitCode).toBe(0);
    expect(loads).toHaveLength(1);
    expect(loads[0]!.data).toBe('1\ta\\tb\n2\t\\N\n3\tc\n');
    const sql = loads[0]!.sql;
    expect(sql).toContain("/*!40103 SET TIME_ZONE='+00:00' */;");
    expect(sql).toContain("SQL_MODE='NO_AUTO_VALUE_ON_ZERO'");
    expect(sql).toContain(
      "LOAD DATA LOCAL INFILE '/dev/stdin' INTO TABLE `t` CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' ;",
    );
    // No row went the plain way, and no second plain client was needed.
    expect(plain.flatMap(rowLines)).toEqual([]);
    expect(plain[1]!.received).toEqual([]);
    expect(loader.fastRowsLoaded).toBe(3);
    // The table existed before the LOAD DATA began: a barrier after its CREATE.
    expect(main.received.findIndex((l) => l.startsWith("SELECT 'myaas-barrier-"))).toBeGreaterThan(
      main.received.indexOf(') ENGINE=InnoDB;'),
    );
  });

  it('names the columns when the dump does (--complete-insert)', async () => {
    const text = HEADER + TABLE.replaceAll('INSERT INTO `t` VALUES', 'INSERT INTO `t` (`id`, `name`) VALUES');
    const { loads } = await loadFast(text);
    expect(loads[0]!.sql).toContain("LINES TERMINATED BY '\\n' (`id`,`name`);");
    expect(loads[0]!.data).toBe('1\ta\\tb\n2\t\\N\n3\tc\n');
  });

  it("sends a table's first bytes the plain way: a client of its own is not worth it for a small table", async () => {
    const first = "INSERT INTO `t` VALUES (1,'a\\tb'),(2,NULL);".length;
    const { loads, plain } = await loadFast(HEADER + TABLE, { after: first });
    expect(plain.flatMap(rowLines)).toEqual(["INSERT INTO `t` VALUES (1,'a\\tb'),(2,NULL);"]);
    expect(loads[0]!.data).toBe('3\tc\n');
    const small = await loadFast(HEADER + TABLE, { after: 10_000 });
    expect(small.loads).toEqual([]);
    expect(small.plain.flatMap(rowLines)).toHaveLength(2);
  });

  it('a statement it cannot convert exactly goes to the client unchanged; the others still go fast', async () => {
    const text = HEADER + TABLE.replace("(3,'c')", '(3,CONCAT(1,2))');
    const { result, loads, plain } = await loadFast(text);
    expect(result.exitCode).toBe(0);
    expect(loads[0]!.data).toBe('1\ta\\tb\n2\t\\N\n');
    expect(plain.flatMap(rowLines)).toEqual(['INSERT INTO `t` VALUES (3,CONCAT(1,2));']);
  });

  it('fails the load when the server kept fewer rows than it was sent, as the INSERT would have failed', async () => {
    const { result } = await loadFast(HEADER + TABLE, { kept: (sent) => sent - 1 });
    expect(result.exitCode).toBe(1);
    expect(result.output).toBe(
      "ERROR 1062: table `t`: the server stored 2 of the dump's 3 rows: Duplicate entry '1' for key 'PRIMARY'\n",
    );
  });

  it('leaves every row to the client where LOAD DATA might store them otherwise', async () => {
    const cases: [string, string][] = [
      [
        'no SQL_MODE in the header (the server default may be strict)',
        HEADER.replace(/.*SQL_MODE.*\n/, '') + TABLE,
      ],
      [
        'a strict SQL_MODE',
        HEADER.replace('NO_AUTO_VALUE_ON_ZERO', 'STRICT_TRANS_TABLES,NO_AUTO_VALUE_ON_ZERO') + TABLE,
      ],
      ['0 ids generated (no NO_AUTO_VALUE_ON_ZERO)', HEADER.replace("'NO_AUTO_VALUE_ON_ZERO'", "''") + TABLE],
      [
        'a multibyte charset whose bytes may hide a quote',
        HEADER.replace('SET NAMES utf8mb4', 'SET NAMES sjis') + TABLE,
      ],
      [
        'the client charset changed and not put back',
        HEADER +
          TABLE.replace('SET character_set_client = @saved_cs_client', 'SET character_set_client = latin1'),
      ],
      [
        'a trigger made on the table before its rows',
        HEADER +
          TABLE.replace(
            'LOCK TABLES',
            'CREATE TRIGGER `x` BEFORE INSERT ON `t` FOR EACH ROW SET @a = 1;\nLOCK TABLES',
          ),
      ],
      [
        'the table altered before its rows',
        HEADER + TABLE.replace('LOCK TABLES', 'ALTER TABLE `t` ADD COLUMN `z` int;\nLOCK TABLES'),
      ],
      ['a table the dump did not create', HEADER + TABLE.replace(/CREATE TABLE[^;]*;\n/, '')],
      ['a bit column', HEADER + TABLE.replace('`name` varchar(20)', '`name` bit(8)')],
    ];
    for (const [why, text] of cases) {
      const { result, loads, plain } = await loadFast(text);
      expect(result.exitCode, why).toBe(0);
      expect(loads, why).toEqual([]);
      expect(plain.flatMap(rowLines), why).toHaveLength(2);
    }
  });

  it('goes on after a trigger whose own sql_mode and charset mysqldump sets and puts back', async () => {
    // As mysqldump and mariadb-dump write a trigger.
    const trigger = `/*!50003 SET @saved_cs_client      = @@character_set_client */ ;
/*!50003 SET @saved_cs_results     = @@character_set_results */ ;
/*!50003 SET @saved_col_connection = @@collation_connection */ ;
/*!50003 SET character_set_client  = utf8mb4 */ ;
/*!50003 SET character_set_results = utf8mb4 */ ;
/*!50003 SET collation_connection  = utf8mb4_general_ci */ ;
/*!50003 SET @saved_sql_mode       = @@sql_mode */ ;
/*!50003 SET sql_mode              = 'STRICT_TRANS_TABLES,ERROR_FOR_DIVISION_BY_ZERO' */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50003 TRIGGER \`tt\` BEFORE INSERT ON \`t\` FOR EACH ROW SET @a = 1 */;;
DELIMITER ;
/*!50003 SET sql_mode              = @saved_sql_mode */ ;
/*!50003 SET character_set_client  = @saved_cs_client */ ;
/*!50003 SET character_set_results = @saved_cs_results */ ;
/*!50003 SET collation_connection  = @saved_col_connection */ ;
`;
    const second = TABLE.replaceAll('`t`', '`u`');
    const { result, loads } = await loadFast(HEADER + TABLE + trigger + second);
    expect(result.exitCode).toBe(0);
    expect(loads.map((l) => /INTO TABLE (`\w+`)/.exec(l.sql)?.[1])).toEqual(['`t`', '`u`']);
  });
});

describe('MysqlDumpLoader: row statements written one row per line (mariadb-dump 10.11.8 on)', () => {
  const perLine = TABLE.replace(
    "INSERT INTO `t` VALUES (1,'a\\tb'),(2,NULL);",
    "INSERT INTO `t` VALUES\n(1,'a\\tb'),\n(2,NULL);",
  );

  it('gathers the statement, then loads its rows like a one-line one', async () => {
    const { result, loads, plain } = await loadFast(HEADER + perLine);
    expect(result.exitCode).toBe(0);
    expect(loads[0]!.data).toBe('1\ta\\tb\n2\t\\N\n3\tc\n');
    expect(plain.flatMap(rowLines)).toEqual([]);
  });

  it('and so with the first row on the line of the column list (--complete-insert)', async () => {
    const complete = perLine.replace(
      "INSERT INTO `t` VALUES\n(1,'a\\tb'),",
      "INSERT INTO `t` (`id`, `name`) VALUES (1,'a\\tb'),",
    );
    expect(complete).toContain("INSERT INTO `t` (`id`, `name`) VALUES (1,'a\\tb'),\n(2,NULL);");
    const { result, loads, plain } = await loadFast(HEADER + complete);
    expect(result.exitCode).toBe(0);
    expect(loads.map((l) => l.data)).toEqual(['1\ta\\tb\n2\t\\N\n', '3\tc\n']);
    expect(plain.flatMap(rowLines)).toEqual([]);
  });

  it('splits them over the two clients, whole, when LOAD DATA is off', async () => {
    const main = new FakeSession();
    const second = new FakeSession();
    let next = 0;
    const loader = new MysqlDumpLoader(async () => [main, second][next++]!, silentLogger, {
      fastRows: false,
    });
    expect((await loader.load(Readable.from([Buffer.from(HEADER + perLine)]))).exitCode).toBe(0);
    const all = [...main.received, ...second.received];
    expect(all.join('\n')).toContain("INSERT INTO `t` VALUES\n(1,'a\\tb'),\n(2,NULL);");
    // Each statement went whole to one client: the second got one of the two.
    expect(second.received.filter((l) => l.startsWith('INSERT'))).toHaveLength(1);
  });

  it('sends lines that only looked like the start of one as they came', async () => {
    const text = `${HEADER}INSERT INTO \`t\` VALUES\nSELECT 1;\nINSERT INTO \`t\` VALUES\n(1),\n`;
    const main = new FakeSession();
    const loader = new MysqlDumpLoader(async () => main, silentLogger);
    expect((await loader.load(Readable.from([Buffer.from(text)]))).exitCode).toBe(0);
    expect(main.received.slice(-4)).toEqual([
      'INSERT INTO `t` VALUES',
      'SELECT 1;',
      'INSERT INTO `t` VALUES',
      '(1),',
    ]);
  });
});

describe('MysqlDumpLoader: what the fast path follows of the session (review findings)', () => {
  it('loads into the database the dump chose with USE', async () => {
    const text = `${HEADER}CREATE DATABASE \`a\`;\nUSE \`a\`;\n${TABLE}`;
    const { loads } = await loadFast(text);
    expect(loads).toHaveLength(1);
    expect(loads[0]!.sql).toMatch(/USE `a`; LOAD DATA/);
  });

  it("keeps going after a view's stand-in, whose charset is put back without a comment", async () => {
    const view = `/*!50001 DROP VIEW IF EXISTS \`v\`*/;
SET @saved_cs_client     = @@character_set_client;
SET character_set_client = utf8mb4;
/*!50001 CREATE VIEW \`v\` AS SELECT
 1 AS \`id\` */;
SET character_set_client = @saved_cs_client;
`;
    const { loads } = await loadFast(HEADER + view + TABLE);
    expect(loads).toHaveLength(1);
  });

  it('leaves the rest of the dump plain after a SET it does not follow, or a mode it does not know', async () => {
    for (const text of [
      // After the header (a SET in the header is replayed in the LOAD DATA client).
      HEADER + TABLE.replace('LOCK TABLES', "/*!40103 SET TIME_ZONE='+05:00' */;\nLOCK TABLES"),
      HEADER + TABLE.replace('LOCK TABLES', 'SET FOREIGN_KEY_CHECKS=1;\nLOCK TABLES'),
      HEADER.replace(
        "SQL_MODE='NO_AUTO_VALUE_ON_ZERO'",
        "SQL_MODE='NO_AUTO_VALUE_ON_ZERO,EMPTY_STRING_IS_NULL'",
      ) + TABLE,
    ]) {
      const { loads, plain } = await loadFast(text);
      expect(loads, text).toEqual([]);
      expect(plain.flatMap(rowLines), text).toHaveLength(2);
    }
  });

  it('ends the LOAD DATA before a statement of its table goes the plain way (it may hold the AUTO-INC lock)', async () => {
    const text =
      HEADER +
      TABLE.replace(
        "INSERT INTO `t` VALUES (3,'c');",
        "INSERT INTO `t` VALUES (3,'c');\nINSERT INTO `t` VALUES (4,CONCAT('d'));\nINSERT INTO `t` VALUES (5,'e');",
      );
    const order: string[] = [];
    const plain = [new FakeSession(), new FakeSession()];
    let next = 0;
    const loads: FakeLoadData[] = [];
    const loader = new MysqlDumpLoader(
      async (execute) => {
        if (execute === undefined) return plain[next++]!;
        const session = new FakeLoadData(execute);
        session.stdin.on('end', () => order.push(`load ${loads.indexOf(session)} ended`));
        loads.push(session);
        order.push(`load ${loads.length - 1} opened`);
        return session;
      },
      silentLogger,
      { fastRowsAfterBytes: 0 },
    );
    for (const s of plain)
      s.stdin.on('data', (d: Buffer) => {
        if (d.toString().includes('CONCAT')) order.push('plain row');
      });
    expect((await loader.load(Readable.from([Buffer.from(text)]))).exitCode).toBe(0);
    expect(order).toEqual(['load 0 opened', 'load 0 ended', 'plain row', 'load 1 opened', 'load 1 ended']);
    expect(loads.map((l) => l.data)).toEqual(['1\ta\\tb\n2\t\\N\n3\tc\n', '5\te\n']);
  });

  it('opens the LOAD DATA only once the table exists and earlier rows are in, with one client too', async () => {
    const main = new FakeSession();
    const events: string[] = [];
    main.onOutput((text) => events.push(`acknowledged ${text.split('\n')[0]}`));
    const loader = new MysqlDumpLoader(
      async (execute) => {
        if (execute === undefined) return main;
        events.push('load opened');
        return new FakeLoadData(execute);
      },
      silentLogger,
      { parallel: false, fastRowsAfterBytes: 0 },
    );
    expect((await loader.load(Readable.from([Buffer.from(HEADER + TABLE)]))).exitCode).toBe(0);
    expect(events[0]).toMatch(/^acknowledged myaas-barrier-/);
    expect(events.indexOf('load opened')).toBeGreaterThan(0);
  });

  it("a failure of the loader's own LOAD DATA client is the loader's, not an unsafe dump", async () => {
    const refused = new FakeLoadData('');
    const failing: ExecSession = {
      ...refused,
      stdin: refused.stdin,
      onOutput: () => undefined,
      abort: () => refused.abort(),
      result: new Promise((resolve) =>
        refused.stdin.on('end', () =>
          resolve({
            exitCode: 1,
            output:
              'ERROR 4166 (HY000) at line 1: The used command is not allowed because the MariaDB server or client has disabled the local infile capability',
          }),
        ),
      ),
    };
    const result = await loadWithFailingLoadData(failing);
    expect(result.exitCode).toBe(1);
    expect(result.output).toMatch(/^the loader's LOAD DATA of table `t`: ERROR 4166/);
  });
});

describe('MysqlDumpLoader: the session rules, second review', () => {
  const off = async (text: string) => {
    const { loads, plain } = await loadFast(text);
    return { loads: loads.length, plainRows: plain.flatMap(rowLines).length };
  };
  const beforeRows = (line: string) => HEADER + TABLE.replace('LOCK TABLES', `${line}\nLOCK TABLES`);

  it('a SET it cannot follow turns the fast path off: spanning lines, under another delimiter, a client command', async () => {
    for (const line of [
      "SET sql_mode =\n'NO_AUTO_VALUE_ON_ZERO,NO_BACKSLASH_ESCAPES';",
      "DELIMITER ;;\nSET sql_mode='NO_BACKSLASH_ESCAPES';;\nDELIMITER ;",
      "SET sql_mode='ANSI_QUOTES';\nSET @saved_sql_mode=@@sql_mode;\nSET sql_mode=@saved_sql_mode;",
      '\\C latin1',
      'charset latin1',
      "/*M!100100 SET time_zone='+01:00' */;",
    ]) {
      expect(await off(beforeRows(line)), line).toEqual({ loads: 0, plainRows: 2 });
    }
  });

  it("keeps it on around a database's events, whose time zone mysqldump saves to @save_time_zone", async () => {
    const events = `/*!50106 SET @save_time_zone= @@TIME_ZONE */ ;
DELIMITER ;;
/*!50106 SET TIME_ZONE= 'SYSTEM' */ ;;
/*!50106 CREATE*/ /*!50117 DEFINER=\`root\`@\`localhost\`*/ /*!50106 EVENT \`e\` ON SCHEDULE EVERY 1 DAY DO SELECT 1 */ ;;
DELIMITER ;
/*!50106 SET TIME_ZONE= @save_time_zone */ ;`;
    expect(await off(beforeRows(events))).toEqual({ loads: 1, plainRows: 0 });
    // And off while the zone is not put back.
    expect(await off(beforeRows(events.replace('/*!50106 SET TIME_ZONE= @save_time_zone */ ;', '')))).toEqual(
      {
        loads: 0,
        plainRows: 2,
      },
    );
  });

  it('replays only the last USE, and never a `USE INDEX` line of a routine body', async () => {
    const routine =
      'DELIMITER ;;\nCREATE PROCEDURE `p`()\nBEGIN\nSELECT * FROM `x`\nUSE INDEX (`i`);\nEND ;;\nDELIMITER ;\n';
    const text = `${HEADER}USE \`a\`;\nUSE \`b\`;\n${routine}${TABLE}`;
    const { loads } = await loadFast(text);
    expect(loads).toHaveLength(1);
    expect(loads[0]!.sql).toContain('USE `b`; LOAD DATA');
    expect(loads[0]!.sql).not.toContain('USE `a`');
    expect(loads[0]!.sql).not.toContain('USE INDEX');
  });

  it("says it was the loader's own client when that client quits while rows are written to it", async () => {
    const failing = quitsOnFirstWrite('ERROR 4166 (HY000): ... disabled the local infile capability', 20);
    const result = await loadWithFailingLoadData(failing);
    expect(result.exitCode).toBe(1);
    expect(result.output).toMatch(/^the loader's LOAD DATA of table `t`: ERROR 4166/);
  });
});
