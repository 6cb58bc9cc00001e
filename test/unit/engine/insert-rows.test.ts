import { describe, expect, it } from 'vitest';
import {
  type ColumnShape,
  convertRows,
  insertHead,
  tableShape,
} from '../../../controller/engine/mariadb/insert-rows.js';

const CREATE = [
  'CREATE TABLE `t` (',
  '  `id` int(11) NOT NULL AUTO_INCREMENT,',
  '  `name` varchar(80) CHARACTER SET latin1 COLLATE latin1_swedish_ci DEFAULT NULL,',
  '  `price` decimal(10,2) NOT NULL,',
  '  `data` blob DEFAULT NULL,',
  '  `at` datetime NOT NULL,',
  '  PRIMARY KEY (`id`),',
  '  KEY `name` (`name`)',
  ') ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;',
].map((l) => `${l}\n`);

const col = (kind: ColumnShape['kind'], nullable = true, autoIncrement = false): ColumnShape => ({
  name: '`c`',
  kind,
  nullable,
  autoIncrement,
});

/** The LOAD DATA text of a row statement's rows, or undefined (the statement goes to the client). */
function convert(sql: string, columns: ColumnShape[]): string | undefined {
  const line = Buffer.from(`${sql}\n`, 'latin1');
  const head = insertHead(line);
  if (!head) return undefined;
  return convertRows(line, head.rowsStart, columns)?.data.toString('latin1');
}

describe('tableShape: which columns the fast path may fill, from the dump CREATE TABLE', () => {
  it('reads each column kind, NOT NULL and AUTO_INCREMENT; keys are not columns', () => {
    expect(tableShape(CREATE)).toEqual({
      name: '`t`',
      columns: [
        { name: '`id`', kind: 'number', nullable: false, autoIncrement: true },
        { name: '`name`', kind: 'text', nullable: true, autoIncrement: false },
        { name: '`price`', kind: 'number', nullable: false, autoIncrement: false },
        { name: '`data`', kind: 'binary', nullable: true, autoIncrement: false },
        { name: '`at`', kind: 'text', nullable: false, autoIncrement: false },
      ],
    });
  });

  it('leaves whole tables to the client when a column is one LOAD DATA may store otherwise', () => {
    const withColumn = (line: string) => [...CREATE.slice(0, 2), `  ${line},\n`, ...CREATE.slice(2)];
    for (const line of [
      '`b` bit(8) DEFAULT NULL',
      '`g` geometry DEFAULT NULL',
      '`p` point NOT NULL',
      '`v` int(11) GENERATED ALWAYS AS (`id` + 1) VIRTUAL',
      '`w` int(11) AS (`id` * 2) PERSISTENT',
      '`h` int(11) DEFAULT NULL INVISIBLE',
      '`x` somethingnew DEFAULT NULL',
    ]) {
      expect(tableShape(withColumn(line)), line).toBeUndefined();
    }
    const versioned = [...CREATE.slice(0, -1), ') ENGINE=InnoDB WITH SYSTEM VERSIONING;\n'];
    expect(tableShape(versioned)).toBeUndefined();
  });
});

describe('insertHead', () => {
  it('finds the table, the column list and the first row', () => {
    expect(insertHead(Buffer.from('INSERT INTO `t` VALUES (1),(2);'))).toEqual({
      table: '`t`',
      columns: undefined,
      rowsStart: 23,
    });
    expect(insertHead(Buffer.from('INSERT INTO `a``b` (`x`, `y`) VALUES (1,2);'))).toMatchObject({
      table: '`a``b`',
      columns: ['`x`', '`y`'],
    });
    expect(insertHead(Buffer.from('INSERT INTO t VALUES (1);'))).toBeUndefined();
    expect(insertHead(Buffer.from('INSERT INTO `t` SELECT 1;'))).toBeUndefined();
  });
});

describe('convertRows: INSERT values into LOAD DATA text, exactly or not at all', () => {
  it('decodes every escape of a quoted string and writes LOAD DATA escapes', () => {
    const sql = String.raw`INSERT INTO ${'`t`'} VALUES ('a\0b\'c\"d\be\nf\rg\th\Zi\\j\%k\_l''m\qn');`;
    // \% and \_ keep their backslash in a string literal; an unknown escape is the character itself.
    expect(convert(sql, [col('text')])).toBe("a\\0b'c\"d\be\\nf\\rg\\th\x1ai\\\\j\\\\%k\\\\_l'mqn\n");
  });

  it('escapes raw tabs, newlines and backslashes a string holds, and keeps every other byte', () => {
    const bytes = Buffer.concat([
      Buffer.from("INSERT INTO `t` VALUES ('", 'latin1'),
      Buffer.from([0x09, 0x41, 0xff, 0xc3, 0xa9, 0x01, 0x7f]),
      Buffer.from("');\n", 'latin1'),
    ]);
    const head = insertHead(bytes)!;
    expect([...convertRows(bytes, head.rowsStart, [col('text')])!.data]).toEqual([
      0x5c, 0x74, 0x41, 0xff, 0xc3, 0xa9, 0x01, 0x7f, 0x0a,
    ]);
  });

  it('converts NULL, numbers, hex and _binary strings where the column takes them', () => {
    const columns = [col('number'), col('number'), col('binary'), col('binary'), col('text'), col('number')];
    expect(
      convert(
        "INSERT INTO `t` VALUES (-12,1.5e-7,0x00095C41,_binary 'x\\0',NULL,'7'),(0,-0.50,'',0x,'',NULL);",
        [...columns],
      ),
    ).toBeUndefined(); // 0x with no digits is not a hex literal
    expect(
      convert(
        "INSERT INTO `t` VALUES (-12,1.5e-7,0x00095C41,_binary 'x\\0',NULL,'7'),(0,-0.50,'','',NULL,NULL);",
        [...columns],
      ),
    ).toBe('-12\t1.5e-7\t\\0\\t\\\\A\tx\\0\t\\N\t7\n0\t-0.50\t\t\t\\N\t\\N\n');
    expect(convert('INSERT INTO `t` VALUES (1E+30,.5);', [col('number'), col('number')])).toBe('1E+30\t.5\n');
    expect(convert('INSERT INTO `t` VALUES (-0.5,-10);', [col('number'), col('number')])).toBe('-0.5\t-10\n');
  });

  it('refuses what LOAD DATA would store otherwise, and what it does not know', () => {
    const refused: [string, ColumnShape[]][] = [
      // A number into a text column: INSERT stores its canonical form (1.5e3 as 1500).
      ['INSERT INTO `t` VALUES (1.5e3);', [col('text')]],
      // Hex into a number: INSERT reads it as an integer.
      ['INSERT INTO `t` VALUES (0x3132);', [col('number')]],
      ["INSERT INTO `t` VALUES (_binary 'x');", [col('text')]],
      // NULL into NOT NULL: a one-row INSERT fails, LOAD DATA stores the default.
      ['INSERT INTO `t` VALUES (NULL);', [col('text', false)]],
      // NULL into AUTO_INCREMENT: an id handed out.
      ['INSERT INTO `t` VALUES (NULL);', [col('number', true, true)]],
      ["INSERT INTO `t` VALUES (b'0101');", [col('number')]],
      ["INSERT INTO `t` VALUES (_utf8mb4'x');", [col('text')]],
      ["INSERT INTO `t` VALUES (CONCAT('a','b'));", [col('text')]],
      ['INSERT INTO `t` VALUES ("double");', [col('text')]],
      ['INSERT INTO `t` VALUES (0x123);', [col('binary')]],
      ['INSERT INTO `t` VALUES (1,2);', [col('number')]],
      ['INSERT INTO `t` VALUES (1);', [col('number'), col('number')]],
      ['INSERT INTO `t` VALUES (1) ON DUPLICATE KEY UPDATE c=1;', [col('number')]],
      ["INSERT INTO `t` VALUES ('unterminated);", [col('text')]],
      ['INSERT INTO `t` VALUES (-);', [col('number')]],
      ['INSERT INTO `t` VALUES (1e);', [col('number')]],
      ['INSERT INTO `t` VALUES (1) ;x', [col('number')]],
      // -0: INSERT stores 0; LOAD DATA's text gives a FLOAT or DOUBLE -0.
      ['INSERT INTO `t` VALUES (-0);', [col('number')]],
      ['INSERT INTO `t` VALUES (-0.000);', [col('number')]],
      ['INSERT INTO `t` VALUES (-0e10);', [col('number')]],
    ];
    for (const [sql, columns] of refused) expect(convert(sql, columns), sql).toBeUndefined();
  });

  it('counts the rows', () => {
    const line = Buffer.from("INSERT INTO `t` VALUES (1,'a'),(2,'b'),(3,'c');\r\n");
    expect(convertRows(line, insertHead(line)!.rowsStart, [col('number'), col('text')])?.rows).toBe(3);
  });
});
