import type { V1Pod, V1Service } from '@kubernetes/client-node';
import { templateNodeLabel } from '../../cluster/template-labels.js';
import type { ServerImage } from '../../engine/engine.js';
import { DATABASE_LABEL, MANAGED_BY_LABEL, databaseOwnerReference } from './credentials-secret.js';
import type { ResourceLocation } from './kubernetes-desired-state.js';

/**
 * A database's server as Kubernetes objects (docs/kubernetes.md): a Pod of the template's image that
 * kube-scheduler may only place on a node whose agent holds the template version ready (required node
 * affinity on the Node label the agent sets), its data the clone the agent makes on that node under the
 * pool, and a Service in front. Both owned by the Database. The controller's DatabasePods makes them
 * (`--runtime kubernetes`); the node agent of the node the Pod is bound to makes the clone.
 */

export { templateNodeLabel };

/**
 * Written by the agent into the clone, last, holding the uid of the Database it was made for: a Pod
 * made again for the same Database (rescheduled, restarted) finds its data; a clone left by an earlier
 * Database of the same name is never taken for this one's.
 */
export const CLONE_READY_FILE = '.myaas-clone-ready';

/** The label naming the content key of the template version a database Pod's data is cloned from. */
export const TEMPLATE_VERSION_LABEL = 'myaas.dev/template-version';

/** The label naming the template a database Pod's data comes from. */
export const TEMPLATE_LABEL = 'myaas.dev/template';

/** The well-known Node label a database is pinned by once its clone exists on that node. */
export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export const podNameOf = (database: string) => `myaas-${database}`;

export interface DatabasePodOptions {
  readonly location: ResourceLocation;
  readonly template: string;
  readonly templateVersion: string;
  /** The server image (the template's, else the controller's default for the engine). */
  readonly image: string;
  readonly serverImage: ServerImage;
  /** The node pool's databases folder, the same path on every node (the chart's value). */
  readonly poolDatabasesDir: string;
  readonly memoryMiB?: number;
  /** The node holding this database's clone, once it has one: the Pod may only go there again. */
  readonly node?: string;
  /** The official images' server user. @default 999 */
  readonly uid?: number;
}

const labelsOf = (name: string) => ({
  'app.kubernetes.io/name': 'myaas-database',
  [MANAGED_BY_LABEL]: 'myaas',
  [DATABASE_LABEL]: name,
});

/** A Service name must be a DNS-1035 label (a letter first): a database name starting with a digit gets `db-`. */
export function serviceNameOf(database: string): string {
  return /^[a-z]/.test(database) ? database : `db-${database}`.slice(0, 63).replace(/-+$/, '');
}

export function databasePod(options: DatabasePodOptions): V1Pod {
  const { location, serverImage } = options;
  const uid = options.uid ?? 999;
  const memory = options.memoryMiB ? { memory: `${options.memoryMiB}Mi` } : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: podNameOf(location.name),
      namespace: location.namespace,
      labels: {
        ...labelsOf(location.name),
        [TEMPLATE_LABEL]: options.template,
        [TEMPLATE_VERSION_LABEL]: options.templateVersion,
      },
      ownerReferences: [databaseOwnerReference(location)],
    },
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              {
                matchExpressions: [
                  {
                    key: templateNodeLabel(options.template),
                    operator: 'In',
                    values: [options.templateVersion],
                  },
                  ...(options.node ? [{ key: HOSTNAME_LABEL, operator: 'In', values: [options.node] }] : []),
                ],
              },
            ],
          },
        },
      },
      securityContext: { runAsUser: uid, runAsGroup: uid, runAsNonRoot: true },
      // The clone's folder exists only once the agent made it: the server mounts it as a subPath of the
      // pool (resolved when the server container starts, after the wait), never an empty folder of its own.
      initContainers: [
        {
          name: 'wait-for-clone',
          image: options.image,
          command: [
            'sh',
            '-c',
            `until [ "$(cat "/pool/$DATABASE/${CLONE_READY_FILE}" 2>/dev/null)" = "$CLONE_OWNER" ]; do sleep 0.2; done`,
          ],
          env: [
            { name: 'DATABASE', value: location.name },
            { name: 'CLONE_OWNER', value: location.uid },
          ],
          volumeMounts: [{ name: 'pool', mountPath: '/pool', readOnly: true }],
        },
      ],
      containers: [
        {
          name: 'server',
          image: options.image,
          args: serverImage.serveArgs(),
          env: Object.entries(serverImage.env()).map(([name, value]) => ({ name, value })),
          ports: [{ name: 'sql', containerPort: serverImage.port }],
          volumeMounts: [{ name: 'pool', mountPath: serverImage.dataDir, subPath: location.name }],
          readinessProbe: { tcpSocket: { port: 'sql' }, periodSeconds: 2 },
          ...(memory ? { resources: { requests: memory, limits: memory } } : {}),
        },
      ],
      volumes: [{ name: 'pool', hostPath: { path: options.poolDatabasesDir, type: 'Directory' } }],
      // A clean shutdown: a clone of a cleanly stopped server starts without crash recovery (FACTS).
      terminationGracePeriodSeconds: 60,
      restartPolicy: 'Always',
    },
  };
}

export function databaseService(location: ResourceLocation, serverImage: ServerImage): V1Service {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: serviceNameOf(location.name),
      namespace: location.namespace,
      labels: labelsOf(location.name),
      ownerReferences: [databaseOwnerReference(location)],
    },
    spec: {
      type: 'ClusterIP',
      selector: { [DATABASE_LABEL]: location.name },
      ports: [{ name: 'sql', port: serverImage.port, targetPort: 'sql' }],
    },
  };
}
