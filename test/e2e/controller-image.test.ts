import { spawn } from 'node:child_process';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LABELS } from '../../controller/runtime/runtime.js';
import { TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
/** What the Dockerfile builds FROM: test-env makes it locally (no registry is reachable here). */
const BASE_IMAGE = 'node:20-bookworm-slim';
/**
 * One tag for every run: its layers are the build cache, so a rerun with unchanged sources takes
 * seconds. Labelled myaas.test=1 (the label reaches its containers: `test-env down` removes them).
 */
const IMAGE = 'myaas-test/controller:e2e';
const BUILD_TIMEOUT_MS = 600_000;

/** The distro docker CLI (the test engine's release), else the one on PATH. */
const DOCKER_CLI = existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';

/** A free TCP port on loopback (the controller shares the host's network, as in the compose file). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** `docker build` of the checkout's Dockerfile as committed, against the test engine; its output. */
function buildImage(dockerHost: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // --network host: the test engine runs without iptables, masquerading or IP forwarding (it must
    // not touch the host's rules), so a build container on its bridge reaches nothing; the build's
    // `npm ci` (npm registry) and `apt-get install` (Debian mirror) need the network the host has.
    // The legacy builder (DOCKER_BUILDKIT=0): the one dockerd 20.10 runs without a buildx plugin;
    // it keeps every step's layer, which is the cache a rerun uses.
    const child = spawn(
      DOCKER_CLI,
      ['build', '--network', 'host', '--label', 'myaas.test=1', '-t', IMAGE, '-f', 'Dockerfile', '.'],
      {
        cwd: ROOT,
        env: { ...process.env, DOCKER_HOST: dockerHost, DOCKER_BUILDKIT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), BUILD_TIMEOUT_MS - 10_000);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(output);
      else reject(new Error(`docker build failed (${signal ?? `exit ${code}`}):\n${output.slice(-6000)}`));
    });
  });
}

/**
 * The seed quick start (the original README's), against the controller running in the image built
 * from the Dockerfile: a dump in the dumps dir becomes a template, POST /db/<template>/<name> makes a
 * database, GET shows host/port/user/password, a real client reads the dump's rows, DELETE removes it.
 * The container runs as docker-compose.example.yml runs it: CAP_SYS_ADMIN, host network, the engine's
 * socket mounted, the btrfs folder at the same path inside and out.
 */
describe('the controller image: built from the Dockerfile, running the seed quick start', () => {
  // Only its folders (on the test btrfs) and its cleanup are used: the controller runs in the container.
  const bed = new TestBed('image');
  const dockerHost = `unix://${bed.env.dockerSocket}`;
  let containerId: string | undefined;
  let base = '';
  let buildSeconds = 0;

  const call = async (method: string, route: string, body?: unknown, accept = 'application/json') => {
    const response = await fetch(`${base}${route}`, {
      method,
      headers: {
        accept,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, text, type: response.headers.get('content-type') ?? '' };
  };
  const json = (answer: { text: string }) => JSON.parse(answer.text) as Record<string, unknown>;
  /** The controller's own log, for failure messages. */
  const controllerLog = async () => {
    if (!containerId) return '';
    const logs = (await bed.docker
      .getContainer(containerId)
      .logs({ stdout: true, stderr: true, tail: 60 })
      .catch((error: Error) => Buffer.from(String(error)))) as Buffer;
    return logs.toString('utf8');
  };
  /** `waitFor`, with the controller's log in the message when it times out. */
  const waitWithLog = async <T>(what: string, check: () => Promise<T>, timeoutMs: number) => {
    try {
      return await waitFor(what, check, timeoutMs, 250);
    } catch (error) {
      throw new Error(`${(error as Error).message}\n--- controller log (tail):\n${await controllerLog()}`);
    }
  };

  beforeAll(async () => {
    await bed.docker
      .getImage(BASE_IMAGE)
      .inspect()
      .catch(() => {
        throw new Error(
          `the Dockerfile's base image ${BASE_IMAGE} is not in the test engine: run \`sudo scripts/test-env up\` (or \`scripts/test-env node-image\`)`,
        );
      });
    const t0 = Date.now();
    await buildImage(dockerHost);
    buildSeconds = (Date.now() - t0) / 1000;

    // As the original README: test_db.sql in the dumps dir.
    mkdirSync(bed.dumpsDir, { recursive: true });
    writeFileSync(
      path.join(bed.dumpsDir, 'test_db.sql'),
      "create table test (id int, name varchar(32));\ninsert into test values (1, 'alice'); insert into test values (2, 'bob');\n",
    );
    const port = await freePort();
    const container = await bed.docker.createContainer({
      Image: IMAGE,
      name: `myaas-image-e2e-${path.basename(bed.dir)}`,
      Labels: { 'myaas.test': '1' },
      Env: [
        `MYAAS_SPECS_DIR=${bed.specsDir}`,
        `MYAAS_DUMPS_DIR=${bed.dumpsDir}`,
        `MYAAS_DATA_DIR=${bed.dataDir}`,
        `MYAAS_IMAGE=${bed.env.image}`,
        'MYAAS_HOSTNAME=localhost',
        // Loopback of the host's network: served without users, as the seed quick start is.
        `MYAAS_LISTEN=127.0.0.1:${port}`,
        'MYAAS_IMPORT_MEMORY_MIB=256',
        'MYAAS_LOG_LEVEL=debug',
      ],
      HostConfig: {
        NetworkMode: 'host',
        // As the compose file: CAP_SYS_ADMIN, which btrfs subvolume delete needs. Not --privileged: it
        // asks for every capability, and this machine's own bounding set lacks CAP_SYS_RESOURCE
        // (runc: "unable to apply caps: operation not permitted").
        CapAdd: ['SYS_ADMIN'],
        Binds: [`${bed.env.dockerSocket}:/var/run/docker.sock`, `${bed.dir}:${bed.dir}`],
      },
    });
    containerId = container.id;
    await container.start();
    base = `http://127.0.0.1:${port}`;
    await waitWithLog(
      'the controller in its container answering',
      async () => {
        const state = (await container.inspect()).State;
        if (!state.Running) throw new Error(`the controller container exited (${state.ExitCode})`);
        return (await call('GET', '/')).status === 200;
      },
      60_000,
    );
  }, BUILD_TIMEOUT_MS + 120_000);

  afterAll(async () => {
    // The databases it made, through its API while it runs; then the container (by id); then by
    // label whatever servers carry this controller's id (the data dir's path, the same inside and
    // out), and the bed's subvolumes and folders.
    if (base) {
      const listed = await call('GET', '/db').catch(() => undefined);
      const databases = listed?.status === 200 ? (json(listed).databases as Record<string, string>[]) : [];
      for (const db of databases)
        await call('DELETE', `/db/${db.template}/${db.name}`).catch(() => undefined);
    }
    if (process.env.MYAAS_TEST_LOGS && containerId) {
      mkdirSync(process.env.MYAAS_TEST_LOGS, { recursive: true });
      const all = (await bed.docker
        .getContainer(containerId)
        .logs({ stdout: true, stderr: true })
        .catch(() => Buffer.from(''))) as Buffer;
      writeFileSync(path.join(process.env.MYAAS_TEST_LOGS, `${path.basename(bed.dir)}.log`), all);
    }
    if (containerId) {
      const container = bed.docker.getContainer(containerId);
      await container.stop({ t: 30 }).catch(() => undefined);
      await container.remove({ force: true, v: true }).catch(() => undefined);
    }
    await bed.destroy();
  }, 180_000);

  it('builds from the Dockerfile as committed, on the local base image, with the web UI inside', async () => {
    const image = await bed.docker.getImage(IMAGE).inspect();
    expect(image.Config.Entrypoint).toEqual(['node', '/app/dist/controller/main.js']);
    expect(image.Config.Env).toContain('MYAAS_RUNTIME=docker');
    // FROM the image test-env made: the build's layers sit on the base image's own.
    const baseLayers = (await bed.docker.getImage(BASE_IMAGE).inspect()).RootFS.Layers ?? [];
    expect(baseLayers.length).toBeGreaterThan(0);
    expect(image.RootFS.Layers?.slice(0, baseLayers.length)).toEqual(baseLayers);
    expect(image.RootFS.Layers?.length).toBeGreaterThan(baseLayers.length);
    // The page the controller serves at /ui/ was built into the image (vite, in the build stage).
    const ui = await call('GET', '/ui/', undefined, 'text/html');
    expect(ui.status).toBe(200);
    expect(ui.type).toContain('text/html');
    console.info(
      `controller image ${IMAGE}: docker build ${buildSeconds.toFixed(1)} s, ${(image.Size / 1e6).toFixed(0)} MB`,
    );
  });

  it('runs the seed quick start: template from the dump, POST, GET, a real client reads the rows, DELETE', async () => {
    await waitWithLog(
      'template test_db listed',
      async () => ((json(await call('GET', '/templates')).templates ?? []) as string[]).includes('test_db'),
      180_000,
    );
    const created = await call('POST', '/db/test_db/newdb', { ttl: 3600 });
    expect(created.status, created.text).toBe(201);
    expect(json(created)).toMatchObject({
      name: 'newdb',
      host: 'localhost',
      running: true,
      database: 'default',
    });

    const shown = json(await call('GET', '/db/test_db/newdb'));
    expect(shown).toMatchObject({ name: 'newdb', host: 'localhost', running: true });
    expect(Number(shown.port)).toBeGreaterThan(0);
    expect(String(shown.user)).not.toBe('');
    expect(String(shown.password)).not.toBe('');

    // A real client, as the README's `mysql -u… -p… --host --port default`: the host's mariadb.
    const { stdout } = await exec('mariadb', [
      '--host=127.0.0.1',
      `--port=${shown.port}`,
      `--user=${shown.user}`,
      `--password=${shown.password}`,
      '--batch',
      '--skip-column-names',
      String(shown.database),
      '-e',
      'select * from test order by id',
    ]);
    expect(stdout).toBe('1\talice\n2\tbob\n');

    // The server the controller made is one of its own: labelled with this controller's id, the id of
    // its data dir's path (the same inside the container and out), which cleanup goes by.
    const servers = await bed.containers();
    expect(servers.filter((c) => c.Labels[LABELS.kind] === 'Database' && c.State === 'running')).toHaveLength(
      1,
    );
    expect(servers.every((c) => c.Labels[LABELS.controller] === bed.controllerId)).toBe(true);

    const deleted = await call('DELETE', '/db/test_db/newdb');
    expect([202, 204], deleted.text).toContain(deleted.status);
    await waitWithLog(
      'newdb gone',
      async () => (await call('GET', '/db/test_db/newdb')).status === 404,
      60_000,
    );
    await waitWithLog(
      "newdb's server removed",
      async () => (await bed.containers()).every((c) => c.Labels[LABELS.kind] !== 'Database'),
      60_000,
    );
    expect(json(await call('GET', '/db')).databases).toEqual([]);
  });
});
