import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../../controller/log.js';
import { LeaderLease } from '../../../../controller/source/kubernetes/leader-lease.js';
import { KubeApiServer, kubeConfigFor } from '../../../support/kube-apiserver/index.js';

// Leader election on a coordination.k8s.io/v1 Lease through the real client, against the in-process
// server's optimistic concurrency (a racing update is 409 Conflict).

let server: KubeApiServer;
const candidates: LeaderLease[] = [];

beforeEach(async () => {
  server = new KubeApiServer();
  await server.listen();
});
afterEach(async () => {
  for (const c of candidates.splice(0)) await c.stop();
  await server.close();
});

function candidate(identity: string): LeaderLease {
  const lease = new LeaderLease({
    kubeConfig: kubeConfigFor(server),
    namespace: 'default',
    identity,
    log: silentLogger,
    leaseDurationSeconds: 1,
    renewDeadlineSeconds: 0.6,
    retryPeriodSeconds: 0.1,
  });
  candidates.push(lease);
  return lease;
}
const holder = () =>
  server.store.find(server.resource('coordination.k8s.io', 'leases'), 'default', 'myaas-controller')?.spec as
    | { holderIdentity?: string; leaseTransitions?: number }
    | undefined;

describe('LeaderLease', () => {
  it('of candidates starting together, exactly one leads', async () => {
    const all = ['a', 'b', 'c'].map(candidate);
    const leading = new Set<string>();
    all.forEach((c, i) => void c.acquire(() => undefined).then(() => leading.add(['a', 'b', 'c'][i]!)));
    await new Promise((r) => setTimeout(r, 400));
    expect(leading.size).toBe(1);
    expect(all.filter((c) => c.leading)).toHaveLength(1);
    expect(holder()?.holderIdentity).toBe([...leading][0]);
  });

  it('a leader that stops gives the Lease up: the next candidate leads at once', async () => {
    const a = candidate('a');
    await a.acquire(() => undefined);
    const b = candidate('b');
    let bLeads = false;
    void b
      .acquire(() => undefined)
      .then(() => {
        bLeads = true;
      });
    await new Promise((r) => setTimeout(r, 300));
    expect(bLeads).toBe(false);
    const stoppedAt = Date.now();
    await a.stop();
    while (!bLeads) await new Promise((r) => setTimeout(r, 10));
    expect(Date.now() - stoppedAt).toBeLessThan(900);
    expect(holder()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('a leader that dies (stops renewing, Lease not released) is replaced once the lease duration has passed', async () => {
    const a = candidate('a');
    await a.acquire(() => undefined);
    await a.stop({ release: false });
    const b = candidate('b');
    const started = Date.now();
    await b.acquire(() => undefined);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect(holder()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
  });

  it('a leader that cannot renew within the renew deadline (API server away) has lost', async () => {
    const a = candidate('a');
    let lost = false;
    await a.acquire(() => {
      lost = true;
    });
    await server.setAvailability('503');
    const away = Date.now();
    while (!lost && Date.now() - away < 3000) await new Promise((r) => setTimeout(r, 20));
    expect(lost).toBe(true);
    expect(Date.now() - away).toBeGreaterThanOrEqual(500);
    expect(a.leading).toBe(false);
  });
});
