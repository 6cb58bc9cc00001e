import type mysql from 'mysql2/promise';

/**
 * Tables with every MariaDB column type and the values that are hard to carry through a dump
 * (limits, NULL, '', escapes, every byte value, zero dates, several character sets), made in a real
 * server so that the real mariadb-dump writes the fixture. `EVERY_TYPE_TABLES` lists them.
 */
export const EVERY_TYPE_TABLES = [
  'ints',
  'nums',
  'times',
  'texts',
  'bins',
  'choices',
  'docs',
  'shapes',
  'gen',
  'many',
  'child',
] as const;

/** Strings whose bytes a dump must escape, or carry as they are. */
const TRICKY = [
  '',
  ' ',
  'trailing spaces  ',
  "it's",
  '"double"',
  'back\\slash',
  'ends in a backslash\\',
  'new\nline',
  'tab\there',
  'cr\rlf\r\n',
  'nul\0byte',
  'ctrl-z\x1a',
  'a;b -- c # d /* e */',
  "'); DROP TABLE t; --",
  '%_ like',
  'é ñ ü ß',
  '😀👍🏽 emoji',
  'mixed 😀 \\ \' " \n \t \0 ;',
  'x'.repeat(5000),
];
/** The same, in latin1's repertoire. */
const latin1 = (s: string) => [...s].map((ch) => (ch.codePointAt(0)! > 0xff ? '?' : ch)).join('');

const ALL_BYTES = Buffer.from(Array.from({ length: 256 }, (_, i) => i));

export async function createEveryTypeTables(c: mysql.Connection): Promise<void> {
  // Zero dates and an enum's '' need a lenient mode, as old data often has.
  await c.query("SET SESSION sql_mode = ''");
  await c.query(`CREATE TABLE ints (id INT PRIMARY KEY, ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT,
    siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED, i INT, iu INT UNSIGNED, bi BIGINT,
    biu BIGINT UNSIGNED, z INT(8) ZEROFILL, bo BOOLEAN)`);
  await c.query(`INSERT INTO ints VALUES
    (1,-128,0,-32768,0,-8388608,0,-2147483648,0,-9223372036854775808,0,0,0),
    (2,127,255,32767,65535,8388607,16777215,2147483647,4294967295,9223372036854775807,18446744073709551615,42,1),
    (3,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL),
    (4,-1,1,-1,1,-1,1,-1,1,-1,1,1,-1)`);
  await c.query(`CREATE TABLE nums (id INT PRIMARY KEY, d DECIMAL(65,30), du DECIMAL(10,2) UNSIGNED,
    f FLOAT, db DOUBLE, f73 FLOAT(7,3), b1 BIT(1), b5 BIT(5), b64 BIT(64))`);
  await c.query(`INSERT INTO nums VALUES
    (1,'12345678901234567890123456789012345.123456789012345678901234567890',0.01,3.14159,2.718281828459045,1234.567,b'1',b'10101',b'1111111111111111111111111111111111111111111111111111111111111111'),
    (2,'-0.000000000000000000000000000001',99999999.99,-3.4e38,1.7976931348623157e308,-9999.999,b'0',b'0',b'0'),
    (3,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL),
    (4,0,0,1.175494e-38,4.9e-324,0,0,31,b'1000000000000000000000000000000000000000000000000000000000000001'),
    (5,-99999999999999999999999999999999999.999999999999999999999999999999,0,-0.0,0.1,0.001,1,7,b'0100111')`);
  await c.query(`CREATE TABLE times (id INT PRIMARY KEY, d DATE, t TIME(6), t0 TIME, dt DATETIME(6),
    dt0 DATETIME, ts TIMESTAMP(6) NULL DEFAULT NULL, ts0 TIMESTAMP NULL DEFAULT NULL, y YEAR)`);
  await c.query("SET time_zone = '+00:00'");
  await c.query(`INSERT INTO times VALUES
    (1,'1000-01-01','-838:59:59.000000','838:59:59','1000-01-01 00:00:00.000000','9999-12-31 23:59:59','1970-01-01 00:00:01.000000','2038-01-19 03:14:07',1901),
    (2,'9999-12-31','12:34:56.789012','00:00:00','2024-02-29 23:59:59.999999','2024-02-29 12:00:00','2024-06-30 12:34:56.123456','2000-01-01 00:00:00',2155),
    (3,'0000-00-00','00:00:00.000001','-00:00:01','0000-00-00 00:00:00.000000','0000-00-00 00:00:00','0000-00-00 00:00:00.000000','0000-00-00 00:00:00',0),
    (4,NULL,NULL,NULL,NULL,NULL,NULL,NULL,NULL),
    (5,'2024-00-00','-00:00:00.5','23:59:59','2024-12-31 23:59:59.5','1999-12-31 23:59:59','2024-03-31 01:30:00.000001','1999-12-31 23:59:59',2024)`);
  await c.query(`CREATE TABLE texts (id INT PRIMARY KEY, c CHAR(10) CHARACTER SET utf8mb4,
    v VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci, tx TEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin,
    l VARCHAR(255) CHARACTER SET latin1, lt TEXT CHARACTER SET latin1 COLLATE latin1_bin,
    vb VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin, cb CHAR(10) BINARY, tt TINYTEXT,
    mt MEDIUMTEXT, lo LONGTEXT, KEY v (v(20)))`);
  const texts: unknown[][] = TRICKY.map((s, i) => {
    const short = [...s].slice(0, 10).join('');
    const vs = [...s].slice(0, 255).join('');
    return [i + 1, short, vs, s, latin1(vs), latin1(s), vs, short, vs.slice(0, 60), s, s];
  });
  texts.push([TRICKY.length + 1, ...Array.from({ length: 10 }, () => null)]);
  await c.query('INSERT INTO texts VALUES ?', [texts]);
  // Every latin1 character, 0x80-0x9f included.
  await c.query(
    `INSERT INTO texts (id, l, lt) VALUES (100, CONVERT(UNHEX('${ALL_BYTES.subarray(32, 255).toString('hex')}') USING latin1), CONVERT(UNHEX('${ALL_BYTES.toString('hex')}') USING latin1))`,
  );
  await c.query(`CREATE TABLE bins (id INT PRIMARY KEY, b BINARY(16), vb VARBINARY(300), tb TINYBLOB,
    bl BLOB, mb MEDIUMBLOB, lb LONGBLOB)`);
  const bins: unknown[][] = [
    [1, ALL_BYTES.subarray(0, 16), ALL_BYTES, ALL_BYTES.subarray(0, 255), ALL_BYTES, ALL_BYTES, ALL_BYTES],
    [2, Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0), Buffer.alloc(0)],
    [3, null, null, null, null, null, null],
    [
      4,
      ALL_BYTES.subarray(240),
      Buffer.concat([ALL_BYTES, ALL_BYTES]).reverse().subarray(0, 300),
      null,
      null,
      null,
      Buffer.alloc(70_000, 0x5c),
    ],
  ];
  for (let byte = 0; byte < 256; byte++) {
    const one = Buffer.from([byte]);
    bins.push([
      10 + byte,
      one,
      one,
      one,
      Buffer.from([byte, byte, 0x27, byte]),
      one,
      Buffer.from([0x5c, byte]),
    ]);
  }
  await c.query('INSERT INTO bins VALUES ?', [bins]);
  await c.query(`CREATE TABLE choices (id INT PRIMARY KEY, e ENUM('a','b c','d''e','ü','back\\\\slash'),
    s SET('x','y','ä','with space'))`);
  await c.query(`INSERT INTO choices VALUES (1,'a',''),(2,'b c','x,y'),(3,'d''e','x,y,ä,with space'),
    (4,NULL,NULL),(5,'','y'),(6,'ü','ä'),(7,'back\\\\slash','x')`);
  await c.query('CREATE TABLE docs (id INT PRIMARY KEY, j JSON, u UUID, ip INET6)');
  await c.query('INSERT INTO docs VALUES ?', [
    [
      [
        1,
        '{"a": "é \\n \\"q\\"", "b": [1, 2.5, null, true], "c": "😀", "d": "back\\\\slash"}',
        '123e4567-e89b-12d3-a456-426655440000',
        '::1',
      ],
      [2, '[]', '00000000-0000-0000-0000-000000000000', '2001:db8::ff00:42:8329'],
      [3, 'null', 'ffffffff-ffff-ffff-ffff-ffffffffffff', '::ffff:192.0.2.1'],
      [4, null, null, null],
    ],
  ]);
  await c.query('CREATE TABLE shapes (id INT PRIMARY KEY, g GEOMETRY, p POINT NOT NULL, SPATIAL KEY p (p))');
  await c.query(`INSERT INTO shapes VALUES
    (1, ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))'), ST_GeomFromText('POINT(1.5 -2.25)')),
    (2, NULL, ST_GeomFromText('POINT(0 0)')),
    (3, ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1),LINESTRING(0 0,10000000000 -0.0000000001))'), ST_GeomFromText('POINT(-180 90)'))`);
  await c.query(`CREATE TABLE gen (id INT AUTO_INCREMENT PRIMARY KEY, a INT NOT NULL, b VARCHAR(20),
    v INT AS (a * 2) VIRTUAL, s VARCHAR(40) AS (CONCAT(b, '!')) STORED, hidden INT INVISIBLE DEFAULT 7,
    KEY a (a), KEY s (s), UNIQUE KEY b (b))`);
  await c.query(
    "INSERT INTO gen (a, b, hidden) VALUES (1, 'one', 1), (2, 'two;', 2), (3, NULL, NULL), (4, '', 4)",
  );
  await c.query("INSERT INTO gen (a, b) VALUES (5, 'hidden default')");
  // Enough rows for several extended INSERTs per table, and both row connections.
  await c.query(`CREATE TABLE many (id INT PRIMARY KEY, k INT NOT NULL, t VARCHAR(100), bl VARBINARY(64),
    KEY k (k), KEY kt (k, t)) DEFAULT CHARSET=utf8mb4`);
  await c.query(`INSERT INTO many SELECT seq, seq % 101, CONCAT('r', seq, ';\\'\\\\\\n😀 -- #'),
    UNHEX(SHA2(seq, 256)) FROM seq_1_to_40000`);
  await c.query(`CREATE TABLE child (id INT PRIMARY KEY, many_id INT, KEY many_id (many_id),
    CONSTRAINT fk FOREIGN KEY (many_id) REFERENCES many (id))`);
  await c.query('INSERT INTO child SELECT seq, seq * 3 FROM seq_1_to_5000');
}
