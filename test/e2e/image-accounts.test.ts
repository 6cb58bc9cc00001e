import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseObject, templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, PROCESS_COPY, TestBed } from '../support/testbed.js';

/** The accounts every MariaDB clone has (README, "Accounts of a clone"), whatever the image left. */
const CLONE_ACCOUNTS = [
  { User: 'mariadb.sys', Host: 'localhost' },
  { User: 'myaas', Host: '%' },
  { User: 'root', Host: '%' },
  { User: 'root', Host: 'localhost' },
];
const ACCOUNTS = 'SELECT User, Host FROM mysql.user ORDER BY User, Host';
const DUMP = 'CREATE TABLE t (id INT PRIMARY KEY);\nINSERT INTO t VALUES (1), (2);\n';

/**
 * Issue 14, "accounts on any image that honours the contract": an image whose first start leaves
 * root@<hostname>, root@127.0.0.1 or root@::1 (the official image drops them; others keep them) made
 * every import fail on docker (`Operation ALTER USER failed for 'root'@'<hostname>'`: the servers run
 * with --skip-name-resolve). Such accounts are dropped on every path, and every clone has the same ones.
 */
describe('MariaDB accounts on any image that honours the contract (docker + btrfs)', () => {
  const bed = new TestBed('image-accounts', { pair: DOCKER_BTRFS });
  const image = 'myaas-test/mariadb-extra-roots:latest';

  beforeAll(async () => {
    // Derived from the shared test image, which stays as it is: its init leaves extra root accounts.
    const context = path.join(bed.dir, 'image');
    mkdirSync(context, { recursive: true });
    writeFileSync(
      path.join(context, 'Dockerfile'),
      `FROM ${bed.env.image}\nCOPY extra-roots.sql /docker-entrypoint-initdb.d/extra-roots.sql\n`,
    );
    writeFileSync(
      path.join(context, 'extra-roots.sql'),
      [
        "CREATE USER 'root'@'127.0.0.1' IDENTIFIED BY 'other';",
        "GRANT ALL ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;",
        "CREATE USER 'root'@'::1' IDENTIFIED BY 'other';",
        "CREATE USER 'root'@'db-host.example' IDENTIFIED BY 'other';",
        // As mariadb-install-db makes it: root at the container's own host name.
        "EXECUTE IMMEDIATE CONCAT('CREATE USER ''root''@''', @@hostname, ''' IDENTIFIED BY ''other''');",
        "CREATE USER ''@'localhost';",
        '',
      ].join('\n'),
    );
    const stream = await bed.docker.buildImage(
      { context, src: ['Dockerfile', 'extra-roots.sql'] },
      { t: image },
    );
    await new Promise<void>((resolve, reject) =>
      bed.docker.modem.followProgress(stream, (error: Error | null, events: { error?: string }[]) => {
        const failed = error?.message ?? events.find((e) => e.error)?.error;
        if (failed) reject(new Error(`building ${image}: ${failed}`));
        else resolve();
      }),
    );
    bed.writeDump('extra.sql', DUMP);
    bed.writeDump('plain.sql', DUMP);
    bed.writeSpec(
      'templates.yaml',
      templateObject('extra', { image }),
      templateObject('plain'),
      databaseObject('from-extra', { template: 'extra' }),
      databaseObject('from-plain', { template: 'plain' }),
    );
    await bed.start();
  });
  afterAll(async () => {
    await bed.destroy();
    await bed.docker
      .getImage(image)
      .remove({ force: true })
      .catch(() => undefined);
  });

  it('a template of an image that leaves root@<hostname>, root@127.0.0.1 and root@::1 imports, and its clone works', async () => {
    const t = await bed.waitForTemplate(
      'extra',
      (s) => s.phase === 'Ready' || s.lastImport?.result === 'Failed',
      'imported',
      180_000,
    );
    expect(t.status.lastImport?.error).toBeUndefined();
    expect(t.status.phase).toBe('Ready');
    await bed.waitForDatabase('from-extra', 'Ready');
    expect(await bed.query('from-extra', 'SELECT id FROM t ORDER BY id')).toEqual([{ id: 1 }, { id: 2 }]);
  });

  it('every clone has exactly the accounts README names, whatever its image left', async () => {
    await bed.waitForDatabase('from-plain', 'Ready');
    for (const db of ['from-extra', 'from-plain'])
      expect(await bed.query(db, ACCOUNTS), db).toEqual(CLONE_ACCOUNTS);
  });

  it("the clone's root takes only its own admin password; the image's other passwords are gone", async () => {
    const db = bed.database('from-extra')!;
    const port = db.status.connection!.port;
    const login = (password: string) =>
      mysql
        .createConnection({ host: '127.0.0.1', port, user: 'root', password })
        .then((c) => c.end().then(() => 'in'))
        .catch((error: { code?: string }) => error.code);
    expect(await login(db.record.adminPassword)).toBe('in');
    expect(await login('other')).toBe('ER_ACCESS_DENIED_ERROR');
  });
});

describe('MariaDB accounts of a clone (process + copy)', () => {
  const bed = new TestBed('image-accounts-process', { pair: PROCESS_COPY });

  beforeAll(async () => {
    bed.writeDump('plain.sql', DUMP);
    bed.writeSpec('plain.yaml', templateObject('plain'), databaseObject('from-plain', { template: 'plain' }));
    await bed.start();
  });
  afterAll(async () => {
    await bed.destroy();
  });

  it('a clone of a host server has the same accounts', async () => {
    await bed.waitForDatabase('from-plain', 'Ready', 180_000);
    expect(await bed.query('from-plain', ACCOUNTS)).toEqual(CLONE_ACCOUNTS);
  });
});
