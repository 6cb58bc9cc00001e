import { randomBytes } from 'node:crypto';
import path from 'node:path';
import Docker from 'dockerode';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtrfsStorage } from '../../controller/storage/btrfs-storage.js';
import { run } from '../../controller/util/exec.js';
import { testEnvironment } from '../support/environment.js';
import { waitFor } from '../support/wait.js';

/** The real parts alone, before any myaas code: a local image on a btrfs datadir, and a snapshot of it. */
describe('environment smoke: docker + btrfs + MariaDB', () => {
  const env = testEnvironment();
  const docker = new Docker({ socketPath: env.dockerSocket });
  const storage = new BtrfsStorage();
  const dir = path.join(env.btrfsRoot, `smoke-${randomBytes(3).toString('hex')}`);
  const containers: string[] = [];

  const runServer = async (datadir: string, withInit: boolean) => {
    const container = await docker.createContainer({
      Image: env.image,
      Cmd: ['--skip-name-resolve'],
      User: '999:999',
      Env: withInit ? ['MARIADB_ROOT_PASSWORD=smoke-secret', 'MARIADB_DATABASE=default'] : [],
      Labels: { 'myaas.test': '1' },
      ExposedPorts: { '3306/tcp': {} },
      HostConfig: { Binds: [`${datadir}:/var/lib/mysql`], PortBindings: { '3306/tcp': [{ HostPort: '' }] } },
    });
    containers.push(container.id);
    await container.start();
    const port = await waitFor('published port', async () => {
      const info = await container.inspect();
      return Number(info.NetworkSettings.Ports['3306/tcp']?.[0]?.HostPort ?? 0);
    });
    const connection = await waitFor(
      'server accepting connections',
      () =>
        mysql.createConnection({
          host: '127.0.0.1',
          port,
          user: 'root',
          password: 'smoke-secret',
          database: 'default',
        }),
      120_000,
      200,
    );
    return { container, connection };
  };

  beforeAll(async () => {
    await run('mkdir', ['-p', dir]);
  });
  afterAll(async () => {
    for (const id of containers)
      await docker
        .getContainer(id)
        .remove({ force: true })
        .catch(() => undefined);
    await storage.remove(path.join(dir, 'clone'));
    await storage.remove(path.join(dir, 'template'));
    await run('rm', ['-rf', dir]);
  });

  it('a server on a btrfs subvolume answers, and a snapshot of its stopped datadir serves the same data', async () => {
    const template = path.join(dir, 'template');
    await storage.createVolume(template);
    await run('chown', ['999:999', template]);
    const first = await runServer(template, true);
    await first.connection.query('CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20))');
    await first.connection.query("INSERT INTO t VALUES (1, 'alice'), (2, 'bob')");
    await first.connection.end();
    await first.container.stop({ t: 60 });
    expect((await first.container.inspect()).State.ExitCode).toBe(0);

    const clone = path.join(dir, 'clone');
    expect(await storage.clone(template, clone)).toBe('snapshot');
    const second = await runServer(clone, false);
    const [rows] = await second.connection.query('SELECT name FROM t ORDER BY id');
    expect(rows).toEqual([{ name: 'alice' }, { name: 'bob' }]);
    await second.connection.end();
  });
});
