import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { databaseObject } from '../support/specs.js';
import { TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const run = promisify(execFile);
const TEST_ENV = path.resolve(import.meta.dirname, '../../scripts/test-env');

/**
 * Faults below the controller: the database's server killed, OOM-killed or crashed, and dockerd
 * itself restarted. Each ends with the database answering again with the rows written before the fault.
 */
describe('server faults (docker + btrfs)', () => {
  // A memory limit per database, so a runaway query meets the cgroup's OOM killer.
  const bed = new TestBed('faults-server', { config: { databaseMemoryMiB: 384 } });
  const names = ['f-kill', 'f-oom', 'f-segv', 'f-dockerd'];

  beforeAll(async () => {
    bed.declareShop();
    for (const n of names) bed.writeSpec(`${n}.yaml`, databaseObject(n));
    await bed.spawn();
    for (const n of names) {
      await bed.waitForDatabase(n, 'Ready', 180_000);
      // Its own data, written after the clone: what must survive the fault.
      await bed.query(n, `INSERT INTO products VALUES (100, 'own-${n}', 1)`);
    }
  });

  afterAll(async () => {
    await bed.destroy();
  });

  interface Incarnation {
    readonly id: string;
    readonly startedAt: string;
  }

  /** The database's current server: its container id and start time. */
  async function incarnation(name: string): Promise<Incarnation> {
    const [server] = await bed.serversOf(name);
    if (!server) throw new Error(`${name} has no server`);
    const info = await bed.docker.getContainer(server.id).inspect();
    return { id: server.id, startedAt: info.State.StartedAt };
  }

  /** Waits until the database runs in a new incarnation (another container, or a restart), Ready, with its rows. */
  async function expectBack(name: string, before: Incarnation) {
    await waitFor(
      `${name} back in a new or restarted server`,
      async () => {
        if (bed.database(name)?.status.phase !== 'Ready') return false;
        const now = await incarnation(name);
        const info = await bed.docker.getContainer(now.id).inspect();
        return (now.id !== before.id || now.startedAt !== before.startedAt) && info.State.Running;
      },
      120_000,
      200,
    );
    const rows = await waitFor(
      `${name} answers`,
      () => bed.query<{ name: string }>(name, 'SELECT name FROM products WHERE id = 100'),
      60_000,
      200,
    );
    expect(rows).toEqual([{ name: `own-${name}` }]);
    expect(await bed.serversOf(name)).toHaveLength(1);
  }

  it('brings back a database whose container was killed from outside', async () => {
    const server = await incarnation('f-kill');
    await bed.docker.getContainer(server.id).kill({ signal: 'SIGKILL' });
    await expectBack('f-kill', server);
  });

  it('brings back a database whose server was OOM-killed by its memory limit', async () => {
    const server = await incarnation('f-oom');
    const since = Math.floor(Date.now() / 1000) - 1;
    const connection = await bed.connect('f-oom');
    // A MEMORY table grows the server's own memory until the cgroup (384 MiB) kills it.
    const runaway = connection
      .query(
        `SET SESSION max_heap_table_size = 4294967296;
         CREATE TEMPORARY TABLE hog (pad VARCHAR(4000)) ENGINE=MEMORY;
         INSERT INTO hog VALUES (REPEAT('x', 4000));
         ${Array.from({ length: 20 }, () => 'INSERT INTO hog SELECT pad FROM hog;').join('\n')}`,
      )
      .then(
        () => 'finished',
        (error: Error) => error.message,
      );
    const outcome = await runaway;
    connection.destroy();
    expect(outcome).not.toBe('finished');
    // Docker recorded an OOM kill of that very container.
    const events = await dockerEvents(bed, since, { container: [server.id], event: ['oom'] });
    expect(events.length).toBeGreaterThan(0);
    await expectBack('f-oom', server);
  });

  it('brings back a database whose server process crashed (SIGSEGV), data intact after recovery', async () => {
    const server = await incarnation('f-segv');
    // Rows committed just before the crash must survive InnoDB's crash recovery.
    await bed.query('f-segv', `INSERT INTO products VALUES (101, 'late', 1)`);
    await bed.docker.getContainer(server.id).kill({ signal: 'SIGSEGV' });
    await expectBack('f-segv', server);
    expect(await bed.query('f-segv', 'SELECT name FROM products WHERE id = 101')).toEqual([{ name: 'late' }]);
  });

  it('notices a dockerd restart, reconnects, and brings every database back', async () => {
    const before = new Map<string, Incarnation>();
    for (const n of names) before.set(n, await incarnation(n));
    // A service restart: SIGTERM stops dockerd and, without live-restore, every container with it.
    await run('bash', [TEST_ENV, 'restart-dockerd'], { timeout: 180_000 });
    for (const n of names) await expectBack(n, before.get(n)!);
    // The controller still follows docker events after the reconnect: a kill now is seen as fast as before.
    const server = await incarnation('f-dockerd');
    await bed.docker.getContainer(server.id).kill({ signal: 'SIGKILL' });
    await expectBack('f-dockerd', server);
    // One server per database, no leftovers of the old ones.
    const containers = await bed.containers();
    const owners = containers.map((c) => c.Labels['myaas.dev/name']).sort();
    expect(owners).toEqual([...names].sort());
  });
});

async function dockerEvents(
  bed: TestBed,
  since: number,
  filters: Record<string, string[]>,
): Promise<unknown[]> {
  const until = Math.ceil(Date.now() / 1000) + 1;
  const stream = (await bed.docker.getEvents({
    since,
    until,
    filters,
  })) as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Buffer));
  return Buffer.concat(chunks)
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as unknown);
}
