import { createWriteStream } from 'node:fs';

/**
 * Writes a dump in mariadb-dump's own format (header, LOCK TABLES, DISABLE KEYS, extended INSERTs of
 * about 1 MiB, a view, a trigger) of about `mib` MiB: orders with two secondary indexes, and customers.
 */
export async function writeDump(file: string, mib: number): Promise<void> {
  const out = createWriteStream(file);
  const write = (text: string) =>
    out.write(text) ? Promise.resolve() : new Promise<void>((r) => out.once('drain', () => r()));
  await write(`/*M!999999\\- enable the sandbox mode */
-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40103 SET @OLD_TIME_ZONE=@@TIME_ZONE */;
/*!40103 SET TIME_ZONE='+00:00' */;
/*!40014 SET @OLD_UNIQUE_CHECKS=@@UNIQUE_CHECKS, UNIQUE_CHECKS=0 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
/*!40101 SET @OLD_SQL_MODE=@@SQL_MODE, SQL_MODE='NO_AUTO_VALUE_ON_ZERO' */;
`);
  const customers = 50_000;
  await table(
    write,
    'customers',
    `  \`id\` int(11) NOT NULL,
  \`email\` varchar(120) NOT NULL,
  \`name\` varchar(80) NOT NULL,
  \`created\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`email\` (\`email\`)`,
    customers,
    (i) =>
      `(${i},'customer${i}@example.com','Customer ${i}','2024-01-${String((i % 28) + 1).padStart(2, '0')} 10:00:00')`,
  );
  const orderBytes = 105;
  const orders = Math.max(1000, Math.round((mib * 1024 * 1024 - customers * 80) / orderBytes));
  await table(
    write,
    'orders',
    `  \`id\` int(11) NOT NULL,
  \`customer_id\` int(11) NOT NULL,
  \`status\` varchar(16) NOT NULL,
  \`total\` decimal(10,2) NOT NULL,
  \`note\` varchar(80) NOT NULL,
  \`created\` datetime NOT NULL,
  PRIMARY KEY (\`id\`),
  KEY \`customer_id\` (\`customer_id\`),
  KEY \`created\` (\`created\`)`,
    orders,
    (i) =>
      `(${i},${(i * 7919) % customers},'${['new', 'paid', 'shipped', 'returned'][i % 4]}',${((i * 37) % 100000) / 100},'order note number ${i} with some text to pad it','2024-${String((i % 12) + 1).padStart(2, '0')}-${String((i % 28) + 1).padStart(2, '0')} ${String(i % 24).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}:00')`,
  );
  await write(`CREATE VIEW \`paid_orders\` AS SELECT \`id\`, \`total\` FROM \`orders\` WHERE \`status\` = 'paid';
DELIMITER ;;
/*!50003 CREATE TRIGGER \`orders_bi\` BEFORE INSERT ON \`orders\` FOR EACH ROW SET NEW.\`note\` = LEFT(NEW.\`note\`, 80) */;;
DELIMITER ;
/*!40101 SET SQL_MODE=@OLD_SQL_MODE */;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
/*!40014 SET UNIQUE_CHECKS=@OLD_UNIQUE_CHECKS */;
/*!40103 SET TIME_ZONE=@OLD_TIME_ZONE */;
-- Dump completed
`);
  await new Promise<void>((resolve, reject) =>
    out.end((error?: Error | null) => (error ? reject(error) : resolve())),
  );
}

async function table(
  write: (t: string) => Promise<void>,
  name: string,
  columns: string,
  rows: number,
  row: (i: number) => string,
): Promise<void> {
  await write(`DROP TABLE IF EXISTS \`${name}\`;
CREATE TABLE \`${name}\` (
${columns}
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_general_ci;
LOCK TABLES \`${name}\` WRITE;
/*!40000 ALTER TABLE \`${name}\` DISABLE KEYS */;
`);
  let statement: string[] = [];
  let size = 0;
  for (let i = 1; i <= rows; i++) {
    const r = row(i);
    statement.push(r);
    size += r.length + 1;
    if (size > 1_000_000 || i === rows) {
      await write(`INSERT INTO \`${name}\` VALUES ${statement.join(',')};\n`);
      statement = [];
      size = 0;
    }
  }
  await write(`/*!40000 ALTER TABLE \`${name}\` ENABLE KEYS */;
UNLOCK TABLES;
`);
}
