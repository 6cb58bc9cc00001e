import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import Docker from 'dockerode';
import { afterAll, describe, expect, it } from 'vitest';
import { printValidateReport, validatePaths } from '../../controller/cli/validate.js';
import { defaultConfig } from '../../controller/config.js';
import { MariadbEngine } from '../../controller/engine/mariadb/index.js';
import { silentLogger } from '../../controller/log.js';
import { createStorage } from '../../controller/run.js';
import { DockerRuntime } from '../../controller/runtime/docker-runtime.js';
import { loadSchemas } from '../../controller/spec/schema.js';
import { databaseObject, specFile } from '../support/specs.js';

const dir = mkdtempSync(path.join(tmpdir(), 'myaas-prereq-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('missing prerequisites fail at start with one clear message each', () => {
  it('no MariaDB on the host', async () => {
    await expect(new MariadbEngine('mariadb', [dir]).host.check()).rejects.toThrow(
      /runtime process needs mariadb installed on this host; missing: server \(mariadbd\), mariadb-install-db, client \(mariadb\): install it \(Debian\/Ubuntu: apt-get install mariadb-server mariadb-client\) or use --runtime docker/,
    );
  });
  it('no docker engine at the socket', async () => {
    const socketPath = path.join(dir, 'no-docker.sock');
    await expect(DockerRuntime.check(new Docker({ socketPath }), socketPath)).rejects.toThrow(
      new RegExp(
        `runtime docker needs a Docker engine; none answers at ${socketPath}.*start dockerd, set DOCKER_HOST, or use --runtime process`,
      ),
    );
  });
  it('btrfs requested on a data dir that is not on btrfs', async () => {
    await expect(
      createStorage(
        { ...defaultConfig(dir), dataDir: path.join(dir, 'data'), storage: 'btrfs' },
        silentLogger,
      ),
    ).rejects.toThrow(
      /storage btrfs needs the data dir on a btrfs filesystem; .* is on \S+: mount btrfs there or use --storage copy/,
    );
  });
  it('auto falls back to copy off btrfs', async () => {
    const storage = await createStorage(
      { ...defaultConfig(dir), dataDir: path.join(dir, 'auto'), storage: 'auto' },
      silentLogger,
    );
    expect(storage.name).toBe('copy');
  });
  it('a data dir that cannot be written', async () => {
    writeFileSync(path.join(dir, 'a-file'), '');
    await expect(
      createStorage(
        { ...defaultConfig(dir), dataDir: path.join(dir, 'a-file', 'data'), storage: 'copy' },
        silentLogger,
      ),
    ).rejects.toThrow(
      /data dir .*a-file\/data is not writable \(ENOTDIR\): fix its permissions or set --data/,
    );
  });
});

describe('myaas validate', () => {
  it('prints every problem with its file first and fails; counts valid objects otherwise', async () => {
    writeFileSync(path.join(dir, 'good.yaml'), specFile(databaseObject('a'), databaseObject('b')));
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      specFile(databaseObject('c', { ttl: 'x' }), databaseObject('Bad')),
    );
    const lines: string[] = [];
    const bad = await validatePaths([path.join(dir, 'good.yaml'), path.join(dir, 'bad.yaml')], loadSchemas());
    expect(printValidateReport(bad, (l) => lines.push(l))).toBe(1);
    expect(lines.slice(0, 2).every((l) => l.startsWith(path.join(dir, 'bad.yaml')))).toBe(true);
    expect(lines.at(-1)).toBe('2 problem(s) in 2 file(s)');
    const good = await validatePaths([path.join(dir, 'good.yaml')], loadSchemas());
    const out: string[] = [];
    expect(printValidateReport(good, (l) => out.push(l))).toBe(0);
    expect(out).toEqual(['2 object(s) valid in 1 file(s)']);
  });
});
