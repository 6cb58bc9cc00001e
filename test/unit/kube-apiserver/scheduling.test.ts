import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeApiServer } from '../../support/kube-apiserver/index.js';
import { type Json, call, settle, startServer } from './wire.js';

// The scheduler's contract (kube-scheduler, "Assigning Pods to Nodes"): a Pod without spec.nodeName is
// bound to one node that fits its nodeSelector and required node affinity, through pods/binding; no
// fitting node leaves it Pending with PodScheduled=False, Unschedulable.

const PODS = '/api/v1/namespaces/default/pods';
let server: KubeApiServer;
beforeEach(async () => {
  server = await startServer();
  for (const [name, labels] of [
    ['node-a', { 'myaas.dev/template.shop': 'v1', zone: 'x' }],
    ['node-b', { 'myaas.dev/template.shop': 'v2', zone: 'y' }],
    ['node-c', { zone: 'y' }],
  ] as const)
    await call(server, 'POST', '/api/v1/nodes', { metadata: { name, labels } });
});
afterEach(() => server.close());

const pod = (name: string, spec: Json) => ({
  metadata: { name },
  spec: { containers: [{ name: 'db', image: 'mariadb:11.4' }], ...spec },
});
const affinity = (...matchExpressions: Json[]) => ({
  affinity: {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions }] },
    },
  },
});
const nodeOf = async (name: string) => {
  let node: string | undefined;
  await settle(async () => {
    node = (await call(server, 'GET', `${PODS}/${name}`)).body.spec.nodeName;
    return node !== undefined;
  });
  return node;
};

describe('stand-in scheduler', () => {
  it('honours In: only nodes holding the template version', async () => {
    await call(
      server,
      'POST',
      PODS,
      pod('p', affinity({ key: 'myaas.dev/template.shop', operator: 'In', values: ['v2'] })),
    );
    expect(await nodeOf('p')).toBe('node-b');
    const scheduled = (await call(server, 'GET', `${PODS}/p`)).body.status.conditions;
    expect(scheduled).toContainEqual(expect.objectContaining({ type: 'PodScheduled', status: 'True' }));
  });

  it('honours Exists and NotIn together (all expressions of a term)', async () => {
    await call(
      server,
      'POST',
      PODS,
      pod(
        'p',
        affinity(
          { key: 'myaas.dev/template.shop', operator: 'Exists' },
          { key: 'zone', operator: 'NotIn', values: ['x'] },
        ),
      ),
    );
    expect(await nodeOf('p')).toBe('node-b');
  });

  it('honours nodeSelector', async () => {
    await call(server, 'POST', PODS, pod('p', { nodeSelector: { zone: 'x' } }));
    expect(await nodeOf('p')).toBe('node-a');
  });

  it('spreads Pods that fit several nodes over them', async () => {
    for (const name of ['p1', 'p2'])
      await call(server, 'POST', PODS, pod(name, { nodeSelector: { zone: 'y' } }));
    expect(new Set([await nodeOf('p1'), await nodeOf('p2')])).toEqual(new Set(['node-b', 'node-c']));
  });

  it('leaves a Pod that fits no node Unschedulable, and binds it once a node fits', async () => {
    await call(
      server,
      'POST',
      PODS,
      pod('p', affinity({ key: 'myaas.dev/template.shop', operator: 'In', values: ['v3'] })),
    );
    await settle(async () => {
      const conditions = (await call(server, 'GET', `${PODS}/p`)).body.status?.conditions ?? [];
      return conditions.some((c: Json) => c.type === 'PodScheduled' && c.reason === 'Unschedulable');
    });
    const pending = (await call(server, 'GET', `${PODS}/p`)).body;
    expect(pending.spec.nodeName).toBeUndefined();
    expect(pending.status.conditions[0].message).toBe(
      "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector.",
    );
    await call(
      server,
      'PATCH',
      '/api/v1/nodes/node-c',
      { metadata: { labels: { 'myaas.dev/template.shop': 'v3' } } },
      'application/merge-patch+json',
    );
    expect(await nodeOf('p')).toBe('node-c');
  });

  it('pods/binding binds once: a second binding is 409', async () => {
    // No node fits, so the stand-in scheduler leaves it to the explicit binding.
    await call(server, 'POST', PODS, pod('p', { nodeSelector: { zone: 'nowhere' } }));
    const bind = await call(server, 'POST', `${PODS}/p/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'p' },
      target: { kind: 'Node', name: 'node-a' },
    });
    expect(bind.status).toBe(201);
    expect((await call(server, 'GET', `${PODS}/p`)).body.spec.nodeName).toBe('node-a');
    const again = await call(server, 'POST', `${PODS}/p/binding`, {
      target: { kind: 'Node', name: 'node-b' },
    });
    expect(again.status).toBe(409);
    expect(again.body.message).toContain('is already assigned to node "node-a"');
  });
});
