import { describe, expect, it } from 'vitest';
import { engineFor } from '../../../../controller/engine/engines.js';
import { databasePod, databaseService } from '../../../../controller/source/kubernetes/database-pod.js';
import { validateManifest } from '../../../support/helm-subset/kube-schemas.js';

// The database Pod and Service manifests against Kubernetes' own schemas (kubernetes-models), for
// each engine, with and without a memory limit, and a name that needs the Service prefix.
const location = {
  kind: 'Database' as const,
  namespace: 'dev',
  name: '7-shop',
  uid: '0b7c2f4e-8a31-4c55-9d0e-1f2a3b4c5d6e',
};

describe('database Pod and Service against the Kubernetes schemas', () => {
  for (const engine of ['mariadb', 'postgres'] as const) {
    for (const memoryMiB of [undefined, 512]) {
      it(`${engine}, memory ${memoryMiB ?? 'unset'}`, () => {
        const serverImage = engineFor(engine).image;
        const pod = databasePod({
          location,
          template: 'shop',
          templateVersion: 'v3',
          image: engine === 'mariadb' ? 'mariadb:11.4' : 'postgres:16',
          serverImage,
          poolDatabasesDir: '/var/lib/myaas-pool/databases',
          ...(memoryMiB ? { memoryMiB } : {}),
        });
        expect(() => validateManifest(pod)).not.toThrow();
        const service = databaseService(location, serverImage);
        expect(() => validateManifest(service)).not.toThrow();
        expect(service.metadata?.name).toBe('db-7-shop');
        // The validators can fail on this very manifest.
        const broken = structuredClone(pod) as unknown as {
          spec: { containers: [{ ports: [{ containerPort: unknown }] }] };
        };
        broken.spec.containers[0].ports[0].containerPort = 'sql';
        expect(() => validateManifest(broken)).toThrow(/containerPort must be integer/);
      });
    }
  }
});
