import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeApiServer } from '../../support/kube-apiserver/index.js';
import { DATABASES, call, database, startServer } from './wire.js';

let server: KubeApiServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(() => server.close());

const MERGE = 'application/merge-patch+json';
const JSON_PATCH = 'application/json-patch+json';

// api-conventions.md "Concurrency Control and Consistency": every update carries the resourceVersion
// it was based on; a stale one is refused with 409 Conflict, and the client must read again.
describe('optimistic concurrency', () => {
  it('PUT with a stale metadata.resourceVersion is 409 Conflict, with a Status saying so', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    const first = await call(server, 'PUT', `${DATABASES}/a`, {
      ...created.body,
      spec: { template: 'shop', ttl: '1h' },
    });
    expect(first.status).toBe(200);
    const stale = await call(server, 'PUT', `${DATABASES}/a`, {
      ...created.body,
      spec: { template: 'shop', ttl: '2h' },
    });
    expect(stale.status).toBe(409);
    expect(stale.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Conflict', code: 409 });
    expect(stale.body.message).toContain('the object has been modified');
    expect((await call(server, 'GET', `${DATABASES}/a`)).body.spec.ttl).toBe('1h');
  });

  it('PATCH that names a stale resourceVersion is 409; one that names none applies to the latest', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    await call(server, 'PATCH', `${DATABASES}/a`, { spec: { ttl: '1h' } }, MERGE);
    const stale = await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      { metadata: { resourceVersion: created.body.metadata.resourceVersion }, spec: { ttl: '2h' } },
      MERGE,
    );
    expect(stale.status).toBe(409);
    const free = await call(server, 'PATCH', `${DATABASES}/a`, { spec: { ttl: '3h' } }, MERGE);
    expect(free.status).toBe(200);
    expect(free.body.spec.ttl).toBe('3h');
  });

  it('PUT without a resourceVersion is an unconditional update (allowed for custom resources)', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    const { resourceVersion: _rv, ...metadata } = created.body.metadata;
    const put = await call(server, 'PUT', `${DATABASES}/a`, {
      ...created.body,
      metadata,
      spec: { template: 'other' },
    });
    expect(put.status).toBe(200);
    expect(put.body.spec.template).toBe('other');
  });

  it('create of an existing name is 409 AlreadyExists; of a missing object, PUT is 404', async () => {
    await call(server, 'POST', DATABASES, database('a'));
    const again = await call(server, 'POST', DATABASES, database('a'));
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({
      reason: 'AlreadyExists',
      details: { name: 'a', group: 'myaas.dev', kind: 'databases' },
    });
    const missing = await call(server, 'PUT', `${DATABASES}/zzz`, database('zzz'));
    expect(missing.status).toBe(404);
    expect(missing.body.reason).toBe('NotFound');
  });

  it('a write that changes nothing keeps the resourceVersion and makes no event', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    const same = await call(server, 'PUT', `${DATABASES}/a`, created.body);
    expect(same.body.metadata.resourceVersion).toBe(created.body.metadata.resourceVersion);
  });
});

// api-conventions.md "Spec and Status" and the CRD docs "Status subresource": with the status
// subresource, PUT/PATCH of the main resource ignore status, /status ignores everything but status,
// and metadata.generation moves only when the spec does.
describe('status subresource and generation', () => {
  it('a spec change bumps metadata.generation; a metadata-only change does not', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    expect(created.body.metadata.generation).toBe(1);
    const spec = await call(server, 'PATCH', `${DATABASES}/a`, { spec: { ttl: '1h' } }, MERGE);
    expect(spec.body.metadata.generation).toBe(2);
    const labels = await call(server, 'PATCH', `${DATABASES}/a`, { metadata: { labels: { x: 'y' } } }, MERGE);
    expect(labels.body.metadata.generation).toBe(2);
    expect(Number(labels.body.metadata.resourceVersion)).toBeGreaterThan(
      Number(spec.body.metadata.resourceVersion),
    );
  });

  it('a status write keeps generation and ignores a spec change sent with it', async () => {
    await call(server, 'POST', DATABASES, database('a'));
    const written = await call(
      server,
      'PATCH',
      `${DATABASES}/a/status`,
      { spec: { template: 'sneaky' }, status: { phase: 'Ready', observedGeneration: 1 } },
      MERGE,
    );
    expect(written.status).toBe(200);
    expect(written.body.status).toEqual({ phase: 'Ready', observedGeneration: 1 });
    expect(written.body.spec.template).toBe('shop');
    expect(written.body.metadata.generation).toBe(1);
    const put = await call(server, 'PUT', `${DATABASES}/a/status`, {
      ...written.body,
      status: { phase: 'Stopped' },
    });
    expect(put.body.status).toEqual({ phase: 'Stopped' });
    expect(put.body.metadata.generation).toBe(1);
  });

  it('the main resource ignores status, on create and on update', async () => {
    const created = await call(server, 'POST', DATABASES, { ...database('a'), status: { phase: 'Ready' } });
    expect(created.body.status).toBeUndefined();
    await call(server, 'PATCH', `${DATABASES}/a/status`, { status: { phase: 'Cloning' } }, MERGE);
    const main = await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      { status: { phase: 'Failed' }, spec: { ttl: '1h' } },
      MERGE,
    );
    expect(main.body.status).toEqual({ phase: 'Cloning' });
    expect(main.body.spec.ttl).toBe('1h');
  });

  it('the status write is checked against the schema too (422 on an unknown phase)', async () => {
    await call(server, 'POST', DATABASES, database('a'));
    const bad = await call(
      server,
      'PATCH',
      `${DATABASES}/a/status`,
      { status: { phase: 'Sleeping' } },
      MERGE,
    );
    expect(bad.status).toBe(422);
    expect(bad.body.details.causes[0].field).toBe('status.phase');
  });
});

// RFC 7386 (merge patch) and RFC 6902 (JSON patch), as the API server takes them by Content-Type.
describe('patch', () => {
  it('merge patch: null removes a field, objects merge, lists are replaced', async () => {
    await call(
      server,
      'POST',
      DATABASES,
      database('a', { template: 'shop', ttl: '1h' }, { labels: { a: '1', b: '2' } }),
    );
    const patched = await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      { metadata: { labels: { a: null, c: '3' } }, spec: { ttl: null } },
      MERGE,
    );
    expect(patched.body.metadata.labels).toEqual({ b: '2', c: '3' });
    expect(patched.body.spec.ttl).toBeUndefined();
  });

  it('JSON patch: add, replace, remove, test; a failing test is 422 and changes nothing', async () => {
    await call(server, 'POST', DATABASES, database('a', { template: 'shop', ttl: '1h' }));
    const ok = await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      [
        { op: 'test', path: '/spec/ttl', value: '1h' },
        { op: 'replace', path: '/spec/ttl', value: '2h' },
        { op: 'add', path: '/metadata/finalizers', value: ['x/y'] },
        { op: 'remove', path: '/spec/protected' },
      ],
      JSON_PATCH,
    );
    expect(ok.status).toBe(200);
    expect(ok.body.spec.ttl).toBe('2h');
    expect(ok.body.metadata.finalizers).toEqual(['x/y']);
    const failed = await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      [
        { op: 'test', path: '/spec/ttl', value: '1h' },
        { op: 'replace', path: '/spec/ttl', value: '9h' },
      ],
      JSON_PATCH,
    );
    expect(failed.status).toBe(422);
    expect((await call(server, 'GET', `${DATABASES}/a`)).body.spec.ttl).toBe('2h');
  });

  it('strategic merge patch of a custom resource is 415, as on a real server', async () => {
    await call(server, 'POST', DATABASES, database('a'));
    const smp = await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      { spec: { ttl: '1h' } },
      'application/strategic-merge-patch+json',
    );
    expect(smp.status).toBe(415);
    expect(smp.body.reason).toBe('UnsupportedMediaType');
  });
});

// Leader election (client-go leaderelection, coordination.k8s.io/v1 Lease): candidates race on one
// Lease with optimistic concurrency; only the write based on the latest resourceVersion wins.
describe('leases', () => {
  it('two candidates updating the same Lease read: one wins, the other gets 409', async () => {
    const LEASES = '/apis/coordination.k8s.io/v1/namespaces/default/leases';
    const lease = await call(server, 'POST', LEASES, {
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'myaas-controller' },
      spec: { holderIdentity: 'a', leaseDurationSeconds: 15 },
    });
    expect(lease.status).toBe(201);
    const b = await call(server, 'PUT', `${LEASES}/myaas-controller`, {
      ...lease.body,
      spec: { ...lease.body.spec, holderIdentity: 'b' },
    });
    const c = await call(server, 'PUT', `${LEASES}/myaas-controller`, {
      ...lease.body,
      spec: { ...lease.body.spec, holderIdentity: 'c' },
    });
    expect([b.status, c.status]).toEqual([200, 409]);
    expect((await call(server, 'GET', `${LEASES}/myaas-controller`)).body.spec.holderIdentity).toBe('b');
  });
});

describe('Secret', () => {
  it('stores stringData as base64 data (write-only field)', async () => {
    const created = await call(server, 'POST', '/api/v1/namespaces/default/secrets', {
      metadata: { name: 's' },
      data: { a: Buffer.from('1').toString('base64') },
      stringData: { b: 'two' },
    });
    expect(created.body.stringData).toBeUndefined();
    expect(created.body.data).toEqual({ a: 'MQ==', b: Buffer.from('two').toString('base64') });
  });
});
