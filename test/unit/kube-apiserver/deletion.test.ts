import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeApiServer } from '../../support/kube-apiserver/index.js';
import { DATABASES, SECRETS, call, database, settle, startServer } from './wire.js';

let server: KubeApiServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(() => server.close());

const MERGE = 'application/merge-patch+json';
const exists = async (url: string) => (await call(server, 'GET', url)).status === 200;

// api-conventions.md "Metadata" (finalizers, deletionTimestamp) and the garbage collection docs
// ("Finalizers", "Owners and dependents", background cascading deletion).
describe('finalizers', () => {
  it('a DELETE of an object with finalizers sets deletionTimestamp (202) and it goes when the last is removed', async () => {
    await call(
      server,
      'POST',
      DATABASES,
      database('a', { template: 'shop' }, { finalizers: ['myaas.dev/clone'] }),
    );
    const deleting = await call(server, 'DELETE', `${DATABASES}/a`);
    expect(deleting.status).toBe(202);
    expect(deleting.body.metadata.deletionTimestamp).toBeDefined();
    expect(await exists(`${DATABASES}/a`)).toBe(true);
    // Again: still waiting, nothing changes.
    expect((await call(server, 'DELETE', `${DATABASES}/a`)).status).toBe(202);
    const added = await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      { metadata: { finalizers: ['myaas.dev/clone', 'other'] } },
      MERGE,
    );
    expect(added.status).toBe(422);
    const removed = await call(server, 'PATCH', `${DATABASES}/a`, { metadata: { finalizers: null } }, MERGE);
    expect(removed.status).toBe(200);
    expect(await exists(`${DATABASES}/a`)).toBe(false);
  });

  it('a DELETE without finalizers removes at once (200, the object) and preconditions guard it', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    const wrong = await call(server, 'DELETE', `${DATABASES}/a`, { preconditions: { uid: 'not-it' } });
    expect(wrong.status).toBe(409);
    const gone = await call(server, 'DELETE', `${DATABASES}/a`, {
      preconditions: { uid: created.body.metadata.uid },
    });
    expect(gone.status).toBe(200);
    expect(gone.body.metadata.name).toBe('a');
    expect((await call(server, 'DELETE', `${DATABASES}/a`)).status).toBe(404);
  });
});

// The Pod lifecycle docs ("Termination of Pods"): a Pod on a node is deleted gracefully (marked, its
// kubelet stops the containers, then deletes it with grace 0); a Pod never bound goes at once.
describe('graceful deletion of Pods', () => {
  const PODS = '/api/v1/namespaces/default/pods';
  const pod = (name: string, nodeName?: string) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name },
    spec: {
      ...(nodeName ? { nodeName } : {}),
      terminationGracePeriodSeconds: 45,
      containers: [{ name: 'c', image: 'busybox' }],
    },
  });

  it('a bound Pod is marked with deletionTimestamp and its grace period, and goes when deleted with grace 0', async () => {
    await call(server, 'POST', PODS, pod('p', 'n1'));
    const marked = await call(server, 'DELETE', `${PODS}/p`);
    expect(marked.status).toBe(202);
    expect(marked.body.metadata.deletionTimestamp).toBeDefined();
    expect(marked.body.metadata.deletionGracePeriodSeconds).toBe(45);
    expect(await exists(`${PODS}/p`)).toBe(true);
    // Again without a grace: still terminating, nothing shortened.
    expect((await call(server, 'DELETE', `${PODS}/p`)).status).toBe(202);
    expect(await exists(`${PODS}/p`)).toBe(true);
    const gone = await call(server, 'DELETE', `${PODS}/p?gracePeriodSeconds=0`);
    expect(gone.status).toBe(200);
    expect(await exists(`${PODS}/p`)).toBe(false);
  });

  it('an unbound Pod goes at once', async () => {
    await call(server, 'POST', PODS, pod('q'));
    expect((await call(server, 'DELETE', `${PODS}/q`)).status).toBe(200);
    expect(await exists(`${PODS}/q`)).toBe(false);
  });
});

describe('garbage collection (background)', () => {
  const ownedSecret = (name: string, owner: { metadata: { name: string; uid: string } }) => ({
    metadata: {
      name,
      ownerReferences: [
        {
          apiVersion: 'myaas.dev/v1alpha1',
          kind: 'Database',
          name: owner.metadata.name,
          uid: owner.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    stringData: { password: 'x' },
  });

  it('deleting an owner deletes its dependents, shortly after, whatever their kind', async () => {
    const db = await call(server, 'POST', DATABASES, database('a'));
    await call(server, 'POST', SECRETS, ownedSecret('a-credentials', db.body as never));
    await call(server, 'POST', '/api/v1/namespaces/default/services', {
      metadata: { name: 'a', ownerReferences: ownedSecret('x', db.body as never).metadata.ownerReferences },
      spec: { ports: [{ port: 3306 }] },
    });
    await call(server, 'POST', SECRETS, { metadata: { name: 'unowned' } });
    await call(server, 'DELETE', `${DATABASES}/a`);
    await settle(
      async () =>
        !(await exists(`${SECRETS}/a-credentials`)) &&
        !(await exists('/api/v1/namespaces/default/services/a')),
    );
    expect(await exists(`${SECRETS}/unowned`)).toBe(true);
  });

  it('waits for the owner’s finalizers: dependents stay while it is only being deleted', async () => {
    const db = await call(
      server,
      'POST',
      DATABASES,
      database('a', { template: 'shop' }, { finalizers: ['f'] }),
    );
    await call(server, 'POST', SECRETS, ownedSecret('a-credentials', db.body as never));
    await call(server, 'DELETE', `${DATABASES}/a`);
    await new Promise((r) => setTimeout(r, 50));
    expect(await exists(`${SECRETS}/a-credentials`)).toBe(true);
    await call(server, 'PATCH', `${DATABASES}/a`, { metadata: { finalizers: null } }, MERGE);
    await settle(async () => !(await exists(`${SECRETS}/a-credentials`)));
  });

  it('an object whose owner uid does not exist (a dangling reference) is collected; one with a live owner stays', async () => {
    const db = await call(server, 'POST', DATABASES, database('a'));
    await call(
      server,
      'POST',
      SECRETS,
      ownedSecret('dangling', { metadata: { name: 'a', uid: '00000000-0000-0000-0000-000000000000' } }),
    );
    await call(server, 'POST', SECRETS, ownedSecret('kept', db.body as never));
    await settle(async () => !(await exists(`${SECRETS}/dangling`)));
    expect(await exists(`${SECRETS}/kept`)).toBe(true);
  });

  it('an ownerReference without its uid is 422 naming the field', async () => {
    const bad = await call(server, 'POST', SECRETS, {
      metadata: { name: 's', ownerReferences: [{ apiVersion: 'v1', kind: 'Database', name: 'a' }] },
    });
    expect(bad.status).toBe(422);
    expect(bad.body.details.causes.map((c: { field: string }) => c.field)).toEqual([
      'metadata.ownerReferences[0].uid',
    ]);
  });
});
