import { existsSync, lstatSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { silentLogger } from '../../controller/log.js';
import { type Flavor, MARIADB, POSTGRES, type SeedAnswer } from '../support/flavors.js';
import { poolMembers } from '../support/pool.js';
import { templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, PROCESS_COPY, type Pair, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

/**
 * Warm pool (issue 17): a template with spec.pool.size keeps ready members of its current version; a
 * create through the seed API claims one (the answer's credentials are the database's own, the data
 * the template's), the pool refills, and a new version drains the old members. Each engine on each
 * runtime/storage pair.
 */

const TOKEN = 'pool-token-123';

describe.each([
  ['docker+btrfs', 'mariadb', DOCKER_BTRFS, MARIADB],
  ['docker+btrfs', 'postgres', DOCKER_BTRFS, POSTGRES],
  ['process+copy', 'mariadb', PROCESS_COPY, MARIADB],
  ['process+copy', 'postgres', PROCESS_COPY, POSTGRES],
] as [string, string, Pair, Flavor][])('warm pool on %s, %s', (_, _engine, pair, flavor) => {
  const bed = new TestBed(`pool-${flavor.engine}-${pair.runtime}`, { pair });
  let api: ApiServer;
  let base: string;
  const poolDir = () => path.join(bed.dataDir, 'pool', 'shop');
  /** The member records on disk now. */
  const members = () => poolMembers(bed, 'shop');
  const readyMembers = (version: string) => members().filter((m) => m.ready && m.version === version);
  const declare = (label: string, annotations: Record<string, string> = {}) => {
    bed.writeDump('shop.sql', flavor.shopDump(3, label));
    bed.writeSpec(
      'shop.yaml',
      templateObject(
        'shop',
        { engine: flavor.engine, source: { path: 'shop.sql' }, pool: { size: 1 } },
        { annotations },
      ),
    );
  };
  const create = async (name: string): Promise<{ status: number; answer: SeedAnswer }> => {
    const response = await fetch(`${base}/db/shop/${name}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ttl: 3600 }),
    });
    return { status: response.status, answer: (await response.json()) as SeedAnswer };
  };
  const waitForPool = (version: string, what: string) =>
    bed.waitForTemplate(
      'shop',
      (s) => s.pool?.ready === 1 && s.pool.target === 1 && readyMembers(version).length === 1,
      what,
      180_000,
    );
  let v1: string;
  /** The members the first and second databases claimed. */
  let firstMember: string;
  let secondMember: string;
  /** Whether a path exists itself (a link is not followed). */
  const present = (p: string) => {
    try {
      lstatSync(p);
      return true;
    } catch {
      return false;
    }
  };

  beforeAll(async () => {
    declare('v1');
    const running = await bed.start();
    api = createApi(running, silentLogger, TOKEN);
    base = `http://127.0.0.1:${await api.listen('127.0.0.1:0')}`;
    v1 = (await bed.waitForTemplate('shop', (s) => s.phase === 'Ready', 'Ready', 180_000)).status
      .currentVersion!;
  });
  afterAll(async () => {
    await api?.close();
    await bed.destroy();
  });

  it('fills the pool to spec.pool.size with a running member of the current version', async () => {
    await waitForPool(v1, 'pool of 1 ready');
    const [member] = readyMembers(v1);
    const servers = await bed.servers();
    expect(servers.filter((s) => s.role === 'Pool').map((s) => [s.owner, s.running])).toEqual([
      [`shop.${member!.id}`, true],
    ]);
    // Members are not databases: no status, no spec, not listed.
    const states = path.join(bed.dataDir, 'state', 'databases');
    expect(existsSync(states) ? readdirSync(states).filter((e) => e.endsWith('.json')) : []).toEqual([]);
  });

  it("a create claims the member: the answer's own credentials reach the template's data", async () => {
    const [member] = readyMembers(v1);
    firstMember = member!.id;
    const { status, answer } = await create('first');
    expect(status).toBe(201);
    expect(await flavor.queryAs(answer, `SELECT v FROM meta WHERE k = 'label'`)).toEqual([{ v: 'v1' }]);
    // The answer comes once the status says Ready in memory; its file is written right after.
    const stored = await bed.waitForDatabase('first', 'Ready', 10_000);
    // The member's server serves it, its clone moved under databases/, its record is gone.
    expect(stored.record.adoptedServer).toBe(member!.server);
    expect(stored.record.claim).toBeUndefined();
    expect(stored.status.templateVersion).toBe(v1);
    expect(existsSync(path.join(bed.dataDir, 'databases', 'first'))).toBe(true);
    expect(members().map((m) => m.id)).not.toContain(member!.id);
    expect(stored.status.connection?.port).toBe(member!.port);
    // The database's own admin password replaced the member's.
    await flavor.login(Number(answer.port), flavor.adminUser, stored.record.adminPassword);
    await expect(flavor.login(Number(answer.port), flavor.adminUser, member!.adminPassword)).rejects.toThrow(
      flavor.refused,
    );
    // Writes work, including a new table (MariaDB on the host: files opened by the member's old path).
    await flavor.queryAs(answer, 'CREATE TABLE made_here (x int)');
    await flavor.queryAs(answer, 'INSERT INTO made_here VALUES (7)');
    expect(await flavor.queryAs(answer, 'SELECT x FROM made_here')).toEqual([{ x: 7 }]);
  });

  it('refills in the background, and a second claim is a database of its own', async () => {
    await waitForPool(v1, 'refilled');
    secondMember = readyMembers(v1)[0]!.id;
    const { status, answer } = await create('second');
    expect(status).toBe(201);
    expect((await bed.waitForDatabase('second', 'Ready', 10_000)).record.adoptedServer).toBeDefined();
    expect(await flavor.queryAs(answer, `SELECT v FROM meta WHERE k = 'label'`)).toEqual([{ v: 'v1' }]);
    // Not the first one's data.
    await expect(flavor.queryAs(answer, 'SELECT x FROM made_here')).rejects.toThrow();
    await waitForPool(v1, 'refilled again');
  });

  it('a new version drains the old members; the next claim gets the new data, older databases keep theirs', async () => {
    const [old] = readyMembers(v1);
    declare('v2', { 'myaas.dev/reimport': 'drain-1' });
    const v2 = (
      await bed.waitForTemplate(
        'shop',
        (s) => s.phase === 'Ready' && s.currentVersion !== v1,
        'a new version',
        180_000,
      )
    ).status.currentVersion!;
    await waitForPool(v2, 'pool of the new version');
    expect(members().map((m) => m.version)).toEqual([v2]);
    await waitFor(
      'the old member server gone',
      async () => !(await bed.servers()).some((s) => s.owner === `shop.${old!.id}`),
      30_000,
    );
    const { answer } = await create('third');
    expect(await flavor.queryAs(answer, `SELECT v FROM meta WHERE k = 'label'`)).toEqual([{ v: 'v2' }]);
    expect(await bed.query('first', 'SELECT x FROM made_here')).toEqual([{ x: 7 }]);
  });

  it('a claimed database restarts on a server of its own with its data (the member server replaced)', async () => {
    const adopted = bed.database('first')!.record.adoptedServer!;
    await (await bed.runtime()).servers.remove(adopted);
    await waitFor(
      'first served by a server of its own',
      async () =>
        (await bed.serversOf('first')).some((s) => s.running) &&
        bed.database('first')?.status.phase === 'Ready' &&
        bed.database('first')?.record.adoptedServer === undefined,
      120_000,
    );
    expect(bed.database('first')!.record.adoptedServer).toBeUndefined();
    expect(await bed.query('first', 'SELECT x FROM made_here')).toEqual([{ x: 7 }]);
    // The claim's link at the member's old path goes once no server of that member is left (the
    // other claimed databases' links stay: their member servers still serve them).
    await waitFor(
      'the link of the first claim gone',
      () => !present(path.join(poolDir(), firstMember)),
      30_000,
    );
    expect(lstatSync(path.join(poolDir(), secondMember)).isSymbolicLink()).toBe(true);
  });
});
