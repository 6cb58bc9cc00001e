import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { cloneFinalizer } from '../../../controller/cluster/clone-preparer.js';
import { readClusterKey, templateAdminPassword } from '../../../controller/cluster/cluster-key.js';
import {
  TEMPLATE_VERSIONS_ANNOTATION,
  contentKey,
  currentKey,
  heldVersions,
  nodesHolding,
  selects,
  templateNodeLabel,
} from '../../../controller/cluster/template-labels.js';
import type { VersionMeta } from '../../../controller/objects/index.js';

const meta = (over: Partial<VersionMeta> = {}): VersionMeta => ({
  version: 'v20261206-010000-aaaa',
  createdAt: 1,
  engine: 'mariadb',
  image: 'mariadb:11.4',
  database: 'default',
  adminPassword: 'x',
  trigger: { specDigest: 'd1', dump: '10:1', reimportToken: '' },
  dumpSha256: 'abc',
  dumpBytes: 10,
  durationSeconds: 1,
  ...over,
});

const node = (
  name: string,
  held: Record<string, { key: string; createdAt: number }>,
  labels: Record<string, string> = {},
) => ({
  metadata: {
    name,
    labels: {
      ...labels,
      ...Object.fromEntries(Object.entries(held).map(([t, h]) => [templateNodeLabel(t), h.key])),
    },
    annotations: {
      [TEMPLATE_VERSIONS_ANNOTATION]: JSON.stringify(
        Object.fromEntries(Object.entries(held).map(([t, h]) => [t, { ...h, version: `local-${name}` }])),
      ),
    },
  },
});

describe('template versions on Node labels', () => {
  it('a content key is the same for the same dump and settings whatever the node-local id, and differs otherwise', () => {
    const a = contentKey(meta());
    expect(a).toMatch(/^c[0-9a-f]{24}$/);
    expect(contentKey(meta({ version: 'v20261206-020000-bbbb', createdAt: 99, adminPassword: 'y' }))).toBe(a);
    expect(contentKey(meta({ dumpSha256: 'abd' }))).not.toBe(a);
    expect(contentKey(meta({ image: 'mariadb:11.8' }))).not.toBe(a);
    expect(contentKey(meta({ trigger: { specDigest: 'd2', dump: '', reimportToken: '' } }))).not.toBe(a);
  });

  it('the current key is the newest any node holds; a node whose label disagrees with its annotation holds nothing', () => {
    const nodes = [
      node('n1', { shop: { key: 'cold', createdAt: 1 } }),
      node('n2', { shop: { key: 'cnew', createdAt: 5 } }),
      node('n3', { shop: { key: 'cnew', createdAt: 7 } }),
    ];
    expect(currentKey(nodes, 'shop')).toBe('cnew');
    expect(nodesHolding(nodes, 'shop', 'cnew')).toEqual(['n2', 'n3']);
    expect(currentKey(nodes, 'other')).toBeUndefined();
    const stale = node('n4', { shop: { key: 'cnewest', createdAt: 9 } });
    stale.metadata.labels[templateNodeLabel('shop')] = 'cold';
    expect(heldVersions(stale).size).toBe(0);
    expect(currentKey([...nodes, stale], 'shop')).toBe('cnew');
    expect(
      heldVersions({ metadata: { annotations: { [TEMPLATE_VERSIONS_ANNOTATION]: '{not json' } } }).size,
    ).toBe(0);
  });

  it('a node selector selects nodes carrying every label; none selects every node', () => {
    const n = node('n1', {}, { pool: 'fast', zone: 'a' });
    expect(selects(undefined, n)).toBe(true);
    expect(selects({ pool: 'fast' }, n)).toBe(true);
    expect(selects({ pool: 'fast', zone: 'b' }, n)).toBe(false);
  });

  it('each node has its own clone finalizer, a qualified name even for a long node name', () => {
    expect(cloneFinalizer('n1')).toBe('clone.myaas.dev/n1');
    const long = cloneFinalizer(`${'a'.repeat(70)}.example.com`);
    expect(long).toMatch(/^clone\.myaas\.dev\/n-[0-9a-f]{20}$/);
    expect(cloneFinalizer('ip-10-0-0-1.ec2.internal')).toBe('clone.myaas.dev/ip-10-0-0-1.ec2.internal');
  });
});

describe('the cluster key', () => {
  it('derives one admin password per template, the same for the controller and every agent', () => {
    const key = 'k'.repeat(40);
    expect(templateAdminPassword(key, 'shop')).toBe(templateAdminPassword(key, 'shop'));
    expect(templateAdminPassword(key, 'shop')).not.toBe(templateAdminPassword(key, 'crm'));
    expect(templateAdminPassword(`${key}x`, 'shop')).not.toBe(templateAdminPassword(key, 'shop'));
  });

  it('a missing or short key file is refused with the file and the fix', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'cluster-key-'));
    try {
      await expect(readClusterKey(path.join(dir, 'none'))).rejects.toThrow(/--cluster-key-file .*none/);
      await writeFile(path.join(dir, 'short'), 'abc\n');
      await expect(readClusterKey(path.join(dir, 'short'))).rejects.toThrow(
        /3 characters, at least 32.*openssl rand/,
      );
      await writeFile(path.join(dir, 'good'), `${'z'.repeat(48)}\n`);
      expect(await readClusterKey(path.join(dir, 'good'))).toBe('z'.repeat(48));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
