import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { KubeApiServer } from '../../support/kube-apiserver/index.js';
import { DATABASES, type Json, OpenWatch, call, database, startServer } from './wire.js';

let server: KubeApiServer;
beforeEach(async () => {
  server = await startServer();
});
afterEach(() => server.close());

// api-concepts "Discovery API" (unaggregated form): what clients read to map kinds to paths.
describe('discovery', () => {
  it('/api, /apis and each group-version list what is served, with the status subresource', async () => {
    expect((await call(server, 'GET', '/api')).body).toMatchObject({ kind: 'APIVersions', versions: ['v1'] });
    const groups = (await call(server, 'GET', '/apis')).body;
    expect(groups.kind).toBe('APIGroupList');
    expect(groups.groups.map((g: Json) => g.name).sort()).toEqual(['coordination.k8s.io', 'myaas.dev']);
    const myaas = (await call(server, 'GET', '/apis/myaas.dev/v1alpha1')).body;
    expect(myaas).toMatchObject({ kind: 'APIResourceList', groupVersion: 'myaas.dev/v1alpha1' });
    const databases = myaas.resources.find((r: Json) => r.name === 'databases');
    expect(databases).toMatchObject({ kind: 'Database', namespaced: true, shortNames: ['db'] });
    expect(myaas.resources.map((r: Json) => r.name)).toContain('databases/status');
    const core = (await call(server, 'GET', '/api/v1')).body.resources.map((r: Json) => r.name);
    expect(core).toEqual(
      expect.arrayContaining(['secrets', 'pods', 'pods/binding', 'services', 'nodes', 'namespaces']),
    );
    expect((await call(server, 'GET', '/apis/nowhere/v1')).status).toBe(404);
  });
});

describe('availability switch', () => {
  it('refuse: connections are refused and open watches drop; up again on the same port with the same objects', async () => {
    await call(server, 'POST', DATABASES, database('a'));
    const url = server.url;
    const watch = await OpenWatch.open(server, `${DATABASES}?watch=true`);
    await watch.until((w) => w.events.length === 1);
    await server.setAvailability('refuse');
    await watch.until((w) => w.ended);
    await expect(fetch(`${url}${DATABASES}`)).rejects.toThrow();
    await server.setAvailability('up');
    expect(server.url).toBe(url);
    expect((await call(server, 'GET', `${DATABASES}/a`)).status).toBe(200);
    watch.close();
  });

  it('503: every request answers ServiceUnavailable as a Status', async () => {
    await server.setAvailability('503');
    const answer = await call(server, 'GET', DATABASES);
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ kind: 'Status', reason: 'ServiceUnavailable', code: 503 });
    await server.setAvailability('up');
    expect((await call(server, 'GET', DATABASES)).status).toBe(200);
  });
});
