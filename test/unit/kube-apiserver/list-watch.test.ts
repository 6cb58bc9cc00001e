import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeApiServer } from '../../support/kube-apiserver/index.js';
import { DATABASES, OpenWatch, call, database, startServer } from './wire.js';

// api-conventions.md "Concurrency Control and Consistency" and "Efficient detection of changes";
// api-concepts ("Resource versions", "Efficient detection of changes", "Watch bookmarks",
// "410 Gone responses"): one resourceVersion sequence for all objects; a watch from a resourceVersion
// sees every change after it; one the server no longer retains ends in 410 Gone.

let server: KubeApiServer;
const watches: OpenWatch[] = [];
const watch = async (url: string) => {
  const w = await OpenWatch.open(server, url);
  watches.push(w);
  return w;
};

beforeEach(async () => {
  server = await startServer();
});
afterEach(async () => {
  for (const w of watches.splice(0)) w.close();
  await server.close();
});

describe('resourceVersion', () => {
  it('grows with every write, across objects and kinds, and a list carries the latest', async () => {
    const a = await call(server, 'POST', DATABASES, database('a'));
    const s = await call(server, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 's' } });
    const b = await call(server, 'POST', DATABASES, database('b'));
    const versions = [a, s, b].map((r) => Number(r.body.metadata.resourceVersion));
    expect(versions[1]).toBeGreaterThan(versions[0]!);
    expect(versions[2]).toBeGreaterThan(versions[1]!);
    const list = await call(server, 'GET', DATABASES);
    expect(list.body.kind).toBe('DatabaseList');
    expect(list.body.metadata.resourceVersion).toBe(String(versions[2]));
    expect(list.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['a', 'b']);
  });

  it('gives every object a uid and a creationTimestamp the client cannot set', async () => {
    const a = await call(
      server,
      'POST',
      DATABASES,
      database('a', { template: 'shop' }, { uid: 'mine', resourceVersion: '99' }),
    );
    expect(a.body.metadata.uid).toMatch(/^[0-9a-f-]{36}$/);
    expect(a.body.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(a.body.metadata.resourceVersion).not.toBe('99');
  });
});

describe('watch', () => {
  it('without a resourceVersion starts with the current objects as ADDED, then follows changes', async () => {
    await call(server, 'POST', DATABASES, database('a'));
    const w = await watch(`${DATABASES}?watch=true`);
    await w.until((x) => x.events.length === 1);
    await call(server, 'PATCH', `${DATABASES}/a`, { spec: { ttl: '1h' } }, 'application/merge-patch+json');
    await call(server, 'DELETE', `${DATABASES}/a`);
    await w.until((x) => x.events.length === 3);
    expect(w.events.map((e) => e.type)).toEqual(['ADDED', 'MODIFIED', 'DELETED']);
    const versions = w.events.map((e) => Number(e.object.metadata.resourceVersion));
    expect(versions).toEqual([...versions].sort((x, y) => x - y));
  });

  it('from a resourceVersion replays exactly the changes after it', async () => {
    const a = await call(server, 'POST', DATABASES, database('a'));
    await call(server, 'POST', DATABASES, database('b'));
    await call(server, 'DELETE', `${DATABASES}/a`);
    const w = await watch(`${DATABASES}?watch=true&resourceVersion=${a.body.metadata.resourceVersion}`);
    await w.until((x) => x.events.length === 2);
    expect(w.summary().map((s) => s.split('@')[0])).toEqual(['ADDED b', 'DELETED a']);
  });

  it('sends BOOKMARK events only to watches that allow them, carrying the latest resourceVersion', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    const rv = created.body.metadata.resourceVersion;
    const withBookmarks = await watch(
      `${DATABASES}?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`,
    );
    const without = await watch(`${DATABASES}?watch=true&resourceVersion=${rv}`);
    await call(server, 'POST', '/api/v1/namespaces/default/secrets', { metadata: { name: 's' } });
    server.sendBookmarks();
    await withBookmarks.until((x) => x.events.length === 1);
    expect(withBookmarks.events[0]!.type).toBe('BOOKMARK');
    expect(withBookmarks.events[0]!.object.kind).toBe('Database');
    expect(Number(withBookmarks.events[0]!.object.metadata.resourceVersion)).toBe(server.store.revision);
    await call(server, 'POST', DATABASES, database('b'));
    await without.until((x) => x.events.length === 1);
    expect(without.events.map((e) => e.type)).toEqual(['ADDED']);
  });

  it('from a resourceVersion older than the retained window ends with an ERROR event carrying 410 Expired', async () => {
    const first = await call(server, 'POST', DATABASES, database('a'));
    await call(server, 'POST', DATABASES, database('b'));
    server.store.compact();
    const w = await watch(`${DATABASES}?watch=true&resourceVersion=${first.body.metadata.resourceVersion}`);
    await w.until((x) => x.ended);
    expect(w.events).toHaveLength(1);
    expect(w.events[0]!.type).toBe('ERROR');
    expect(w.events[0]!.object).toMatchObject({
      kind: 'Status',
      status: 'Failure',
      reason: 'Expired',
      code: 410,
    });
  });

  it('keeps only historyLimit changes: the window is the test’s to set', async () => {
    await server.close();
    server = await startServer({ historyLimit: 2 });
    const a = await call(server, 'POST', DATABASES, database('a'));
    const b = await call(server, 'POST', DATABASES, database('b'));
    await call(server, 'POST', DATABASES, database('c'));
    await call(server, 'POST', DATABASES, database('d'));
    const tooOld = await watch(`${DATABASES}?watch=true&resourceVersion=${a.body.metadata.resourceVersion}`);
    await tooOld.until((x) => x.ended);
    expect(tooOld.events[0]!.object.code).toBe(410);
    const inWindow = await watch(
      `${DATABASES}?watch=true&resourceVersion=${b.body.metadata.resourceVersion}`,
    );
    await inWindow.until((x) => x.events.length === 2);
    expect(inWindow.summary().map((s) => s.split('@')[0])).toEqual(['ADDED c', 'ADDED d']);
  });

  it('expireWatches ends open watches with 410 and a watch again from their last resourceVersion gets 410 too', async () => {
    const created = await call(server, 'POST', DATABASES, database('a'));
    const w = await watch(`${DATABASES}?watch=true&resourceVersion=${created.body.metadata.resourceVersion}`);
    server.expireWatches();
    await w.until((x) => x.ended);
    expect(w.events.map((e) => [e.type, e.object.code])).toEqual([['ERROR', 410]]);
    const again = await watch(
      `${DATABASES}?watch=true&resourceVersion=${created.body.metadata.resourceVersion}`,
    );
    await again.until((x) => x.ended);
    expect(again.events[0]!.object.code).toBe(410);
  });

  it('ends cleanly after timeoutSeconds', async () => {
    const w = await watch(`${DATABASES}?watch=true&timeoutSeconds=1`);
    await new Promise((r) => setTimeout(r, 1100));
    await w.until((x) => x.ended);
    expect(w.events).toEqual([]);
  });
});

describe('selectors', () => {
  beforeEach(async () => {
    await call(
      server,
      'POST',
      DATABASES,
      database('a', { template: 'shop' }, { labels: { team: 'x', tier: 'ci' } }),
    );
    await call(server, 'POST', DATABASES, database('b', { template: 'shop' }, { labels: { team: 'y' } }));
    await call(server, 'POST', DATABASES, database('c'));
  });
  const names = async (query: string) =>
    ((await call(server, 'GET', `${DATABASES}?${query}`)).body.items as { metadata: { name: string } }[]).map(
      (i) => i.metadata.name,
    );

  it('list by label: equality, inequality, set-based and existence', async () => {
    expect(await names('labelSelector=team%3Dx')).toEqual(['a']);
    expect(await names('labelSelector=team%3D%3Dy')).toEqual(['b']);
    expect(await names('labelSelector=team!%3Dx')).toEqual(['b', 'c']);
    expect(await names(`labelSelector=${encodeURIComponent('team in (x,y)')}`)).toEqual(['a', 'b']);
    expect(await names(`labelSelector=${encodeURIComponent('team notin (x)')}`)).toEqual(['b', 'c']);
    expect(await names('labelSelector=team')).toEqual(['a', 'b']);
    expect(await names('labelSelector=!team')).toEqual(['c']);
    expect(await names('labelSelector=team%3Dx,tier%3Dci')).toEqual(['a']);
  });

  it('list by field: metadata.name, metadata.namespace; an unsupported field is 400', async () => {
    expect(await names('fieldSelector=metadata.name%3Db')).toEqual(['b']);
    expect(await names('fieldSelector=metadata.name!%3Db')).toEqual(['a', 'c']);
    expect(await names('fieldSelector=metadata.namespace%3Ddefault')).toEqual(['a', 'b', 'c']);
    const bad = await call(server, 'GET', `${DATABASES}?fieldSelector=spec.template%3Dshop`);
    expect(bad.status).toBe(400);
    expect(bad.body.kind).toBe('Status');
  });

  it('a watch with a selector sees an object entering the selection as ADDED and leaving it as DELETED', async () => {
    const w = await watch(
      `${DATABASES}?watch=true&resourceVersion=${server.store.revision}&labelSelector=team%3Dx`,
    );
    await call(
      server,
      'PATCH',
      `${DATABASES}/c`,
      { metadata: { labels: { team: 'x' } } },
      'application/merge-patch+json',
    );
    await call(
      server,
      'PATCH',
      `${DATABASES}/a`,
      { metadata: { labels: { team: 'z' } } },
      'application/merge-patch+json',
    );
    await call(server, 'PATCH', `${DATABASES}/b`, { spec: { ttl: '1h' } }, 'application/merge-patch+json');
    await w.until((x) => x.events.length === 2);
    expect(w.summary().map((s) => s.split('@')[0])).toEqual(['ADDED c', 'DELETED a']);
  });

  it('all namespaces: the collection path without a namespace lists every namespace’s objects', async () => {
    await call(server, 'POST', '/api/v1/namespaces', { metadata: { name: 'other' } });
    await call(server, 'POST', '/apis/myaas.dev/v1alpha1/namespaces/other/databases', database('a'));
    const all = await call(server, 'GET', '/apis/myaas.dev/v1alpha1/databases');
    expect(
      all.body.items.map(
        (i: { metadata: { namespace: string; name: string } }) =>
          `${i.metadata.namespace}/${i.metadata.name}`,
      ),
    ).toEqual(['default/a', 'default/b', 'default/c', 'other/a']);
    const missing = await call(
      server,
      'POST',
      '/apis/myaas.dev/v1alpha1/namespaces/nowhere/databases',
      database('a'),
    );
    expect(missing.status).toBe(404);
  });
});

// api-concepts "Resource versions" / "Semantics for get and list": resourceVersionMatch=Exact lists
// the state at that resourceVersion, and 410 Gone (a Status object) once it is no longer retained.
describe('list at an exact resourceVersion', () => {
  it('answers the state as it was, then 410 Gone as a Status once compacted', async () => {
    await call(server, 'POST', DATABASES, database('a'));
    const b = await call(server, 'POST', DATABASES, database('b'));
    const at = b.body.metadata.resourceVersion;
    await call(server, 'DELETE', `${DATABASES}/a`);
    await call(server, 'POST', DATABASES, database('c'));
    await call(server, 'PATCH', `${DATABASES}/b`, { spec: { ttl: '1h' } }, 'application/merge-patch+json');
    const then = await call(server, 'GET', `${DATABASES}?resourceVersion=${at}&resourceVersionMatch=Exact`);
    expect(then.body.metadata.resourceVersion).toBe(at);
    expect(then.body.items.map((i: { metadata: { name: string } }) => i.metadata.name)).toEqual(['a', 'b']);
    expect(then.body.items[1].spec.ttl).toBeUndefined();
    server.store.compact();
    const gone = await call(server, 'GET', `${DATABASES}?resourceVersion=${at}&resourceVersionMatch=Exact`);
    expect(gone.status).toBe(410);
    expect(gone.body).toMatchObject({ kind: 'Status', status: 'Failure', reason: 'Expired', code: 410 });
  });
});
