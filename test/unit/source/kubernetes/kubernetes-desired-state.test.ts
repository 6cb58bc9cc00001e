import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../controller/log.js';
import type { ObjectKey } from '../../../../controller/objects/index.js';
import { scopeOf } from '../../../../controller/source/kubernetes/custom-resources.js';
import { KubernetesDesiredState } from '../../../../controller/source/kubernetes/kubernetes-desired-state.js';
import { loadSchemas } from '../../../../controller/spec/schema.js';
import { type KubeApiServer, kubeConfigFor } from '../../../support/kube-apiserver/index.js';
import {
  createDatabase as createDatabaseIn,
  createTemplate,
  startExampleServer,
  until,
} from '../../../support/kube-resources.js';

// The real @kubernetes/client-node informers against the in-process API server (test/support/kube-apiserver).

const schemas = loadSchemas();

let server: KubeApiServer;
let source: KubernetesDesiredState | undefined;

const databases = () => server.resource('myaas.dev', 'databases');
const createDatabase = (name: string, spec?: Record<string, unknown>, namespace?: string) =>
  createDatabaseIn(server, name, spec, namespace);

async function startSource(namespace = 'default'): Promise<KubernetesDesiredState> {
  source = new KubernetesDesiredState({
    kubeConfig: kubeConfigFor(server),
    scope: scopeOf(namespace),
    schemas,
    log: silentLogger,
    retryMinMs: 20,
    retryMaxMs: 100,
  });
  await source.start();
  return source;
}

beforeEach(async () => {
  server = await startExampleServer();
});
afterEach(async () => {
  await source?.stop();
  source = undefined;
  await server.close();
});

describe('KubernetesDesiredState', () => {
  it('serves the custom resources as declared specs, parsed by the spec parser', async () => {
    createDatabase('alice', { template: 'shop', ttl: '8h' });
    createTemplate(server, 'shop', { annotations: { 'myaas.dev/reimport': '1' } });
    const desired = await startSource();
    expect(desired.synced).toBe(true);
    expect(desired.available).toBe(true);
    expect(
      desired
        .list()
        .map((d) => d.key)
        .sort(),
    ).toEqual(['Database/alice', 'Template/shop']);
    const alice = desired.get('Database/alice')!;
    // The parser's object, not the resource: ttl in seconds, defaults applied.
    expect(alice.object.spec).toEqual({
      template: 'shop',
      ttlSeconds: 8 * 3600,
      state: 'Running',
      protected: false,
    });
    expect(alice.file).toBe('namespaces/default/databases/alice');
    expect(alice.generation).toBe(1);
    expect(desired.get('Template/shop')!.object.metadata.annotations).toEqual({ 'myaas.dev/reimport': '1' });
    expect(desired.locate('Database/alice')).toMatchObject({
      namespace: 'default',
      name: 'alice',
      kind: 'Database',
    });
    expect(desired.absenceTrusted('Database/bob')).toBe(true);
  });

  it('a spec change fires subscribe with the key and the resource’s generation', async () => {
    createDatabase('alice');
    const desired = await startSource();
    const seen: ObjectKey[][] = [];
    desired.subscribe((keys) => seen.push(keys));
    server.store.update(databases(), 'default', 'alice', {
      ...server.store.get(databases(), 'default', 'alice'),
      spec: { template: 'shop', state: 'Stopped' },
    });
    await until(() => desired.get('Database/alice')?.object.spec.state === 'Stopped');
    expect(seen).toContainEqual(['Database/alice']);
    expect(desired.get('Database/alice')!.generation).toBe(2);
    // A status write (ours) moves no generation and changes no desired state.
    seen.length = 0;
    server.store.update(
      databases(),
      'default',
      'alice',
      { ...server.store.get(databases(), 'default', 'alice'), status: { phase: 'Ready' } },
      'status',
    );
    createDatabase('marker');
    await until(() => desired.get('Database/marker') !== undefined);
    expect(seen).toEqual([['Database/marker']]);
  });

  it('a resource the spec parser refuses is a problem; it keeps its last good spec, and a never-good one is not trusted absent', async () => {
    createDatabase('alice');
    const desired = await startSource();
    // Valid for the CRD, not for the product: a branch of itself.
    server.store.update(databases(), 'default', 'alice', {
      ...server.store.get(databases(), 'default', 'alice'),
      spec: { source: { database: 'alice' } },
    });
    createDatabase('bob', { source: { database: 'bob' } });
    await until(() => desired.problems().length === 2);
    expect(desired.get('Database/alice')!.object.spec.template).toBe('shop');
    expect(
      desired
        .problems()
        .map((p) => `${p.file}: ${p.field}`)
        .sort(),
    ).toEqual([
      'namespaces/default/databases/alice: spec.source.database',
      'namespaces/default/databases/bob: spec.source.database',
    ]);
    expect(desired.get('Database/bob')).toBeUndefined();
    expect(desired.absenceTrusted('Database/bob')).toBe(false);
    expect(desired.absenceTrusted('Database/carol')).toBe(true);
  });

  it('API server unavailable (connections refused) for a while: available false, nothing absent; back, it catches up', async () => {
    createDatabase('alice');
    createDatabase('bob');
    const desired = await startSource();
    const keys = desired
      .list()
      .map((d) => d.key)
      .sort();
    await server.setAvailability('refuse');
    await until(() => !desired.available);
    expect(desired.absenceTrusted('Database/alice')).toBe(false);
    expect(desired.absenceTrusted('Database/nobody')).toBe(false);
    expect(desired.problems()[0]!.message).toContain('Kubernetes API server unavailable');
    // A while: several failed retries, and nothing goes.
    await new Promise((r) => setTimeout(r, 400));
    expect(
      desired
        .list()
        .map((d) => d.key)
        .sort(),
    ).toEqual(keys);
    // Changes made while the controller could not see them: found when the server is back.
    server.store.delete(databases(), 'default', 'bob');
    await server.setAvailability('up');
    await until(() => desired.available && desired.get('Database/bob') === undefined);
    expect(desired.get('Database/alice')).toBeDefined();
    expect(desired.absenceTrusted('Database/bob')).toBe(true);
  });

  it('API server answering 503: unavailable too, nothing absent', async () => {
    createDatabase('alice');
    const desired = await startSource();
    await server.setAvailability('503');
    await until(() => !desired.available);
    await new Promise((r) => setTimeout(r, 200));
    expect(desired.get('Database/alice')).toBeDefined();
    expect(desired.absenceTrusted('Database/alice')).toBe(false);
    await server.setAvailability('up');
    await until(() => desired.available);
  });

  it('a watch broken with 410 Gone lists again, and no key is ever absent meanwhile', async () => {
    for (const name of ['a', 'b', 'c']) createDatabase(name);
    const desired = await startSource();
    const keys = ['Database/a', 'Database/b', 'Database/c'] as const;
    const missing: string[] = [];
    const check = () => {
      for (const key of keys) if (!desired.get(key)) missing.push(key);
    };
    desired.subscribe(check);
    const poll = setInterval(check, 1);
    const isList = (r: string) =>
      /^GET \/apis\/myaas\.dev\/v1alpha1\/namespaces\/default\/databases(\?|$)/.test(r) &&
      !r.includes('watch=');
    const listsBefore = server.requests.filter(isList).length;
    expect(listsBefore).toBe(1);
    server.expireWatches();
    createDatabase('d');
    await until(() => desired.get('Database/d') !== undefined);
    clearInterval(poll);
    expect(server.requests.filter(isList).length).toBeGreaterThan(listsBefore);
    expect(missing).toEqual([]);
    expect(desired.available).toBe(true);
  });

  it('--namespace all: every namespace; the same name twice uses the older and reports both', async () => {
    server.store.create(server.resource('', 'namespaces'), undefined, { metadata: { name: 'team-b' } });
    createDatabase('shared', { template: 'shop' }, 'default');
    await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has second precision
    createDatabase('shared', { template: 'other' }, 'team-b');
    createDatabase('only-b', { template: 'shop' }, 'team-b');
    const desired = await startSource('all');
    expect(
      desired
        .list()
        .map((d) => d.key)
        .sort(),
    ).toEqual(['Database/only-b', 'Database/shared']);
    expect(desired.get('Database/shared')!.object.spec.template).toBe('shop');
    expect(desired.problems().filter((p) => p.key === 'Database/shared')).toHaveLength(2);
  });

  it('a resource being deleted (deletionTimestamp) is absent from the desired state', async () => {
    createDatabaseIn(server, 'alice', { template: 'shop' }, 'default', { finalizers: ['example.com/hold'] });
    const desired = await startSource();
    expect(desired.get('Database/alice')).toBeDefined();
    server.store.delete(databases(), 'default', 'alice');
    await until(() => desired.get('Database/alice') === undefined);
    expect(desired.absenceTrusted('Database/alice')).toBe(true);
  });
});
