import { describe, expect, it } from 'vitest';
import { objectProblems } from '../../../controller/api/object-problems.js';
import type { RunningController } from '../../../controller/run.js';
import { FakeDesired } from '../../support/fakes.js';

describe('GET /api/v1/problems: problems of valid objects', () => {
  const desired = new FakeDesired();
  const database = (name: string, spec: Record<string, unknown>) =>
    desired.set({
      kind: 'Database',
      metadata: { name, labels: {}, annotations: {} },
      spec: { template: 'shop', state: 'Running', protected: false, ...spec },
    });
  database('a', { port: 33061 });
  database('b', { port: 33061 });
  database('c', { template: 'nope' });
  database('d', { port: 33062 });
  const statuses: Record<string, unknown> = {
    'Database/c': {
      status: {
        phase: 'Pending',
        conditions: [
          {
            type: 'Ready',
            status: 'False',
            reason: 'TemplateNotFound',
            message: 'template "nope" does not exist',
          },
        ],
      },
    },
  };
  const running = { desired, store: { get: (key: string) => statuses[key] } } as unknown as RunningController;

  it('names a missing template and a port two databases fix', () => {
    expect(objectProblems(running)).toEqual([
      {
        file: 'b.yaml',
        line: 1,
        key: 'Database/b',
        field: 'spec.port',
        message: 'port 33061 is also fixed by Database/a (a.yaml); give each database its own port, or none',
      },
      {
        file: 'c.yaml',
        line: 1,
        key: 'Database/c',
        field: 'spec.template',
        message: 'template "nope" does not exist',
      },
    ]);
  });
});
