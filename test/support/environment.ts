import { existsSync, readFileSync } from 'node:fs';

/**
 * The real environment the end-to-end tests need, made by `scripts/test-env up`. Missing pieces fail
 * the suite with the fix: end-to-end tests are never skipped, in CI or anywhere.
 */
export interface TestEnvironment {
  readonly image: string;
  /** The local postgres image (official image's contract); tests that need it fail without it. */
  readonly pgImage: string;
  readonly btrfsRoot: string;
  readonly dockerSocket: string;
}

const STATE = process.env.MYAAS_TEST_STATE ?? '/var/lib/myaas-test';

export function testEnvironment(): TestEnvironment {
  const fromFile: Record<string, string> = {};
  const envFile = `${STATE}/env`;
  if (existsSync(envFile)) {
    for (const line of readFileSync(envFile, 'utf8').split('\n')) {
      const match = /^(?:export\s+)?([A-Z_]+)=['"]?([^'"]*)['"]?$/.exec(line.trim());
      if (match) fromFile[match[1]!] = match[2]!;
    }
  }
  const get = (name: string) => process.env[name] ?? fromFile[name];
  const image = get('MYAAS_TEST_IMAGE');
  const btrfsRoot = get('MYAAS_TEST_BTRFS_ROOT');
  // The engine is test-env's own dockerd (its socket in the state dir), never one the user runs: the
  // state dir's DOCKER_HOST wins over an inherited one, and the controllers the tests start (in this
  // process, or as children) take it from process.env.
  const dockerHost = fromFile.DOCKER_HOST ?? process.env.DOCKER_HOST ?? `unix://${STATE}/docker.sock`;
  process.env.DOCKER_HOST = dockerHost;
  if (!image || !btrfsRoot) {
    throw new Error(
      'the end-to-end environment is not up (no MYAAS_TEST_IMAGE / MYAAS_TEST_BTRFS_ROOT): run `sudo scripts/test-env up` or `npm run test:full`',
    );
  }
  return {
    image,
    pgImage: get('MYAAS_TEST_PG_IMAGE') ?? 'myaas-test/postgres:latest',
    btrfsRoot,
    dockerSocket: dockerHost.replace(/^unix:\/\//, ''),
  };
}
