import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type ControllerConfig, defaultConfig } from '../../controller/config.js';
import type { RunningKubernetesController } from '../../controller/run-kubernetes.js';
import { KubeApiServer, type KubeApiServerOptions, type Obj } from './kube-apiserver/index.js';
import { waitFor } from './wait.js';

/**
 * What the Kubernetes unit tests set up around the in-process API server (test/support/kube-apiserver):
 * myaas's CRDs, its custom resources, and the assembled controller's server and folder. Kept apart from
 * kube-apiserver/, which stands in for any API server and knows nothing of myaas.
 */

/** The myaas CRDs as shipped (crds-examples/). */
export const EXAMPLE_CRDS = ['database', 'template'].map((k) => path.resolve(`crds-examples/${k}.crd.yaml`));

/** An in-process API server serving the myaas CRDs, listening. */
export async function startExampleServer(options: KubeApiServerOptions = {}): Promise<KubeApiServer> {
  const server = new KubeApiServer({ crdFiles: EXAMPLE_CRDS, ...options });
  await server.listen();
  return server;
}

/** A Database custom resource written straight into the store (no request, no admission). */
export function createDatabase(
  server: KubeApiServer,
  name: string,
  spec: Record<string, unknown> = { template: 'shop' },
  namespace = 'default',
  metadata: Record<string, unknown> = {},
): Obj {
  return server.store.create(server.resource('myaas.dev', 'databases'), namespace, {
    apiVersion: 'myaas.dev/v1alpha1',
    kind: 'Database',
    metadata: { name, ...metadata },
    spec,
  });
}

/** A Template custom resource written straight into the store: engine mariadb, its dump `<name>.sql.gz`. */
export function createTemplate(
  server: KubeApiServer,
  name: string,
  metadata: Record<string, unknown> = {},
): Obj {
  return server.store.create(server.resource('myaas.dev', 'templates'), 'default', {
    apiVersion: 'myaas.dev/v1alpha1',
    kind: 'Template',
    metadata: { name, ...metadata },
    spec: { engine: 'mariadb', source: { path: `${name}.sql.gz` } },
  });
}

/** Polls `test` every 10 ms (these tests wait on informers over loopback): waitFor with a short step. */
export async function until(test: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  await waitFor(what, test, ms, 10);
}

/** The assembled controller's surroundings: a server with the CRDs and a scratch folder. */
export interface ControllerFixture {
  server: KubeApiServer;
  dir: string;
}

export async function openControllerFixture(prefix: string): Promise<ControllerFixture> {
  const server = await startExampleServer();
  return { server, dir: await mkdtemp(path.join(tmpdir(), prefix)) };
}

/** Stops the controller first (it talks to the server), then the server, then removes the folder. */
export async function closeControllerFixture(
  fixture: ControllerFixture,
  running: RunningKubernetesController | undefined,
): Promise<void> {
  await running?.stop();
  await fixture.server.close();
  await rm(fixture.dir, { recursive: true, force: true });
}

/** `--source kubernetes` config over the fixture's folder (data/ and dumps/ in it, the docker runtime). */
export function kubernetesConfig(dir: string, extra: Partial<ControllerConfig> = {}): ControllerConfig {
  return {
    ...defaultConfig(dir),
    source: 'kubernetes',
    dataDir: path.join(dir, 'data'),
    dumpsDir: path.join(dir, 'dumps'),
    runtime: 'docker',
    ...extra,
  };
}
