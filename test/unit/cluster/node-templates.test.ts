import type { V1Node } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { NodeTemplates } from '../../../controller/cluster/node-templates.js';
import type { SpecObject, TemplateObject } from '../../../controller/objects/index.js';
import { FakeDesired } from '../../support/fakes.js';

const template = (name: string, extra: Partial<TemplateObject['spec']> = {}) =>
  ({
    kind: 'Template',
    metadata: { name, annotations: {}, labels: {} },
    spec: { engine: 'mariadb', source: { path: `${name}.sql` }, import: {}, ...extra },
  }) as unknown as SpecObject;
const database = (name: string) =>
  ({
    kind: 'Database',
    metadata: { name, annotations: {}, labels: {} },
    spec: { template: 'shop', state: 'Running', protected: false },
  }) as unknown as SpecObject;

describe("a node agent's templates", () => {
  it('are the Templates whose nodeSelector its Node satisfies, without a pool, and never a Database', () => {
    const desired = new FakeDesired();
    desired.set(template('shop', { nodeSelector: { pool: 'fast' }, pool: { size: 3 } }));
    desired.set(template('crm', { nodeSelector: { pool: 'slow' } }));
    desired.set(template('any'));
    desired.set(database('alice'));
    let node: V1Node | undefined = { metadata: { name: 'n1', labels: { pool: 'fast' } } };
    const view = new NodeTemplates(desired, () => node);
    expect(
      view
        .list()
        .map((d) => d.object.metadata.name)
        .sort(),
    ).toEqual(['any', 'shop']);
    expect(view.list('Database')).toEqual([]);
    expect(view.get('Database/alice')).toBeUndefined();
    expect(view.get('Template/crm')).toBeUndefined();
    // A warm pool's members would be servers outside Kubernetes: the agent imports, it keeps no pool.
    expect((view.get('Template/shop')?.object as TemplateObject).spec.pool).toBeUndefined();
    // Its template controller never removes a database's anything: their absence is never trusted.
    expect(view.absenceTrusted('Database/alice')).toBe(false);
    expect(view.absenceTrusted('Database/nobody')).toBe(false);
    expect(view.absenceTrusted('Template/crm')).toBe(true);
    // The Node relabelled: the selection follows, and subscribers are told every template.
    const told: string[] = [];
    view.subscribe((keys) => told.push(...keys));
    node = { metadata: { name: 'n1', labels: { pool: 'slow' } } };
    view.nodeChanged();
    expect(told.sort()).toEqual(['Template/any', 'Template/crm', 'Template/shop']);
    expect(
      view
        .list()
        .map((d) => d.object.metadata.name)
        .sort(),
    ).toEqual(['any', 'crm']);
    // Before its Node is known nothing is decided: not synced, no absence trusted.
    node = undefined;
    expect(view.synced).toBe(false);
    expect(view.absenceTrusted('Template/crm')).toBe(false);
    view.close();
  });
});
