import { readFile, rm, stat } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import type { Engine } from '../../controller/engine/engine.js';
import type { Logger } from '../../controller/log.js';
import type { EngineName } from '../../controller/objects/index.js';
import { ProcessRuntime } from '../../controller/runtime/process-runtime.js';
import type { KubeApiServer, Obj } from './kube-apiserver/index.js';

/**
 * A stand-in kubelet for one node of the in-process API server: for each Pod bound to its node it does
 * what the kubelet does with a myaas database Pod, on this machine: resolves the hostPath volume under
 * the node's own filesystem root (`hostRoot`; it must exist: type Directory), runs the init container's
 * contract (waits until the clone's marker names the CLONE_OWNER the Pod was given), then runs the
 * server container's program on the subPath (the host's mariadbd/postgres through the process runtime,
 * with the container's args, listening on the Pod IP and the container port), reports the Pod Running
 * and Ready once the port accepts connections (the tcpSocket readiness probe), and on a graceful
 * deletion stops the server cleanly and deletes the Pod with grace 0. What it does not do: images
 * (the engine is read from the image name), resource limits, restarts, other volume kinds.
 */
export class StandInKubelet {
  readonly #server: KubeApiServer;
  readonly #node: string;
  readonly #hostRoot: string;
  readonly #runDir: string;
  readonly #engineFor: (name: EngineName) => Engine;
  readonly #log: Logger;
  readonly #pods = new Map<string, { stop: () => Promise<void>; done: Promise<void> }>();
  readonly #off: () => void;
  static #nextIp = 2;
  static readonly #subnet = 10 + Math.floor(Math.random() * 200);

  constructor(options: {
    server: KubeApiServer;
    node: string;
    hostRoot: string;
    runDir: string;
    engineFor: (name: EngineName) => Engine;
    log: Logger;
  }) {
    this.#server = options.server;
    this.#node = options.node;
    this.#hostRoot = options.hostRoot;
    this.#runDir = options.runDir;
    this.#engineFor = options.engineFor;
    this.#log = options.log;
    const pods = this.#server.resource('', 'pods');
    this.#off = this.#server.store.subscribe((event) => {
      if (event.resource === pods && event.type !== 'DELETED') this.#sync(event.object);
    });
    for (const pod of this.#server.store.list(pods)) this.#sync(pod);
  }

  /** Pods this kubelet runs now. */
  get running(): number {
    return this.#pods.size;
  }

  async close(): Promise<void> {
    this.#off();
    await Promise.all([...this.#pods.values()].map((p) => p.stop()));
  }

  #sync(pod: Obj): void {
    const spec = pod.spec as { nodeName?: string } | undefined;
    if (spec?.nodeName !== this.#node) return;
    const uid = pod.metadata.uid!;
    if (pod.metadata.deletionTimestamp) {
      const running = this.#pods.get(uid);
      void (running ? running.stop() : Promise.resolve()).then(() => this.#remove(pod));
      return;
    }
    if (this.#pods.has(uid)) return;
    let stopped = false;
    let runtime: ProcessRuntime | undefined;
    let serverId: string | undefined;
    const stop = async () => {
      stopped = true;
      await done.catch(() => undefined);
      if (runtime && serverId) {
        await runtime.servers.stop(serverId, 30).catch(() => undefined);
        await runtime.servers.remove(serverId).catch(() => undefined);
      }
      this.#pods.delete(uid);
    };
    const done = (async () => {
      const { volume, initEnv, container } = parts(pod);
      const hostDir = path.join(this.#hostRoot, volume.hostPath.path);
      // hostPath type Directory: the kubelet refuses to start a Pod whose folder is not there.
      if (!(await stat(hostDir).catch(() => undefined))?.isDirectory())
        throw new Error(`hostPath ${volume.hostPath.path} is not a directory on node ${this.#node}`);
      const marker = path.join(hostDir, initEnv.DATABASE ?? '', '.myaas-clone-ready');
      // The init container: until the agent's marker names this Pod's Database.
      while (!stopped && (await readFile(marker, 'utf8').catch(() => '')).trim() !== initEnv.CLONE_OWNER)
        await new Promise((r) => setTimeout(r, 100));
      if (stopped) return;
      const ip = `127.${StandInKubelet.#subnet}.${Math.floor(StandInKubelet.#nextIp / 250)}.${(StandInKubelet.#nextIp++ % 250) + 2}`;
      const engine = this.#engineFor(container.image.includes('postgres') ? 'postgres' : 'mariadb');
      runtime = new ProcessRuntime({
        root: path.join(this.#runDir, uid),
        engineFor: this.#engineFor,
        log: this.#log,
        bindAddress: ip,
      });
      const mount = container.volumeMounts[0]!;
      const port = container.ports[0]!.containerPort;
      const server = await runtime.servers.create({
        role: 'Database',
        owner: pod.metadata.labels?.['myaas.dev/database'] ?? pod.metadata.name,
        template: pod.metadata.labels?.['myaas.dev/template'] ?? '',
        templateVersion: pod.metadata.labels?.['myaas.dev/template-version'] ?? '',
        image: container.image,
        dataDir: path.join(hostDir, mount.subPath ?? ''),
        hostPort: port,
        engine,
        args: container.args ?? [],
      });
      serverId = server.id;
      while (!stopped && !(await accepts(ip, port))) await new Promise((r) => setTimeout(r, 100));
      if (stopped) return;
      this.#setStatus(pod, ip);
    })().catch((error: Error) =>
      this.#log.error({ err: error.message, pod: pod.metadata.name }, 'stand-in kubelet: pod failed'),
    );
    this.#pods.set(uid, { stop, done });
  }

  #setStatus(pod: Obj, ip: string): void {
    const pods = this.#server.resource('', 'pods');
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
    try {
      const current = this.#server.store.get(pods, pod.metadata.namespace, pod.metadata.name);
      if (current.metadata.uid !== pod.metadata.uid) return;
      const status = (current.status ?? {}) as { conditions?: { type: string }[] };
      const others = (status.conditions ?? []).filter(
        (c) => !['Ready', 'ContainersReady', 'Initialized'].includes(c.type),
      );
      this.#server.store.update(
        pods,
        pod.metadata.namespace,
        pod.metadata.name,
        {
          ...current,
          status: {
            ...status,
            phase: 'Running',
            podIP: ip,
            podIPs: [{ ip }],
            hostIP: '127.0.0.1',
            startTime: now,
            conditions: [
              ...others,
              { type: 'Initialized', status: 'True', lastTransitionTime: now },
              { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
              { type: 'Ready', status: 'True', lastTransitionTime: now },
            ],
          },
        },
        'status',
      );
    } catch {
      // Deleted meanwhile: nothing to report on.
    }
  }

  /** The containers are stopped: the Pod object goes (a DELETE with grace 0). */
  async #remove(pod: Obj): Promise<void> {
    await rm(path.join(this.#runDir, pod.metadata.uid!), { recursive: true, force: true });
    try {
      this.#server.store.delete(
        this.#server.resource('', 'pods'),
        pod.metadata.namespace,
        pod.metadata.name,
        {
          uid: pod.metadata.uid!,
        },
      );
    } catch {
      // Gone already.
    }
  }
}

interface PodParts {
  volume: { hostPath: { path: string } };
  initEnv: Record<string, string>;
  container: {
    image: string;
    args?: string[];
    ports: { containerPort: number }[];
    volumeMounts: { subPath?: string }[];
  };
}

function parts(pod: Obj): PodParts {
  const spec = pod.spec as {
    volumes: { hostPath: { path: string } }[];
    initContainers: { env: { name: string; value?: string }[] }[];
    containers: PodParts['container'][];
  };
  const initEnv = Object.fromEntries(
    (spec.initContainers[0]?.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value!]),
  );
  return { volume: spec.volumes[0]!, initEnv, container: spec.containers[0]! };
}

function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}
