import { chown, stat } from 'node:fs/promises';
import { type Duplex, PassThrough } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import type { Endpoint, Engine } from '../engine/engine.js';
import type { Logger } from '../log.js';
import { TailBuffer } from '../util/tail-buffer.js';
import {
  type DataDirFormat,
  type ExecSession,
  LABELS,
  type ProgramsBeside,
  type Runtime,
  type RuntimeEvent,
  type ServerControl,
  type ServerInfo,
  type ServerRole,
  type ServerSpec,
  roleTag,
} from './runtime.js';

const statusCode = (error: unknown) => (error as { statusCode?: number }).statusCode;
/** Where a server's input file (an import's dump) appears in its container. */
const INPUT_PATH = '/myaas-input/dump';

export interface DockerRuntimeOptions {
  readonly docker: Docker;
  /** Distinguishes this controller's containers from another's on the same engine. */
  readonly controllerId: string;
  /** uid:gid the server runs as: the official images' mysql user, so no chown per clone. */
  readonly containerUser: string;
  /** Host address ports are published on (127.0.0.1: reachable from this host only). @default 127.0.0.1 */
  readonly publishAddress?: string;
  readonly log: Logger;
}

/** Database servers as Docker containers, found again by their labels. */
export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  readonly connectHost = '127.0.0.1';
  readonly servers: DockerServers;
  readonly programs: DockerPrograms;
  readonly datadirs: DockerDataDirs;

  constructor(options: DockerRuntimeOptions) {
    const log = options.log.child({ component: 'docker' });
    const images = new DockerImages(options.docker, log);
    this.servers = new DockerServers(options, images, log);
    this.programs = new DockerPrograms(options.docker, options.containerUser);
    this.datadirs = new DockerDataDirs(options.docker, images, options.containerUser);
  }

  /** Throws with the fix when no Docker engine answers. */
  static async check(docker: Docker, socketPath: string): Promise<void> {
    try {
      await docker.ping();
    } catch (error) {
      throw new Error(
        `runtime docker needs a Docker engine; none answers at ${socketPath} (${(error as Error).message}): start dockerd, set DOCKER_HOST, or use --runtime process`,
      );
    }
  }
  async close(): Promise<void> {
    this.servers.close();
  }
}

/** The containers this controller made: created, stopped, removed, listed and watched by label. */
class DockerServers implements ServerControl {
  readonly #publishAddress: string;
  readonly #docker: Docker;
  readonly #controllerId: string;
  readonly #user: string;
  readonly #images: DockerImages;
  readonly #log: Logger;
  #closed = false;

  constructor(options: DockerRuntimeOptions, images: DockerImages, log: Logger) {
    this.#publishAddress = options.publishAddress ?? '127.0.0.1';
    this.#docker = options.docker;
    this.#controllerId = options.controllerId;
    this.#user = options.containerUser;
    this.#images = images;
    this.#log = log;
  }

  close(): void {
    this.#closed = true;
  }

  async list(): Promise<ServerInfo[]> {
    const containers = await this.#docker.listContainers({
      all: true,
      filters: { label: [`${LABELS.controller}=${this.#controllerId}`] },
    });
    return containers.map((c) => {
      const exited = /^Exited \((-?\d+)\)/.exec(c.Status);
      const serverPort = Number(c.Labels[LABELS.port]);
      return {
        id: c.Id,
        role: c.Labels[LABELS.kind] as ServerRole,
        owner: c.Labels[LABELS.name] ?? '',
        templateVersion: c.Labels[LABELS.version] ?? '',
        running: c.State === 'running',
        hostPort: c.Ports.find((p) => p.PrivatePort === serverPort && p.PublicPort)?.PublicPort,
        serverPort,
        createdAt: c.Created * 1000,
        ...(exited ? { exitCode: Number(exited[1]) } : {}),
      };
    });
  }
  async inspect(id: string): Promise<ServerInfo | undefined> {
    let info: Docker.ContainerInspectInfo;
    try {
      info = await this.#docker.getContainer(id).inspect();
    } catch (error) {
      if (statusCode(error) === 404) return undefined;
      throw error;
    }
    const labels = info.Config.Labels ?? {};
    const serverPort = Number(labels[LABELS.port]);
    const binding = info.NetworkSettings.Ports?.[`${serverPort}/tcp`]?.find((b) => b.HostPort);
    return {
      id: info.Id,
      role: labels[LABELS.kind] as ServerRole,
      owner: labels[LABELS.name] ?? '',
      templateVersion: labels[LABELS.version] ?? '',
      running: info.State.Running,
      ...stateSince(info.State),
      ...(binding ? { hostPort: Number(binding.HostPort) } : {}),
      serverPort,
      createdAt: Date.parse(info.Created),
      ...(info.State.Running ? {} : { exitCode: info.State.ExitCode }),
      oomKilled: info.State.OOMKilled,
    };
  }
  async create(spec: ServerSpec): Promise<ServerInfo> {
    await this.#images.ensure(spec.image);
    const name = `myaas-${this.#controllerId}-${roleTag(spec.role)}-${spec.owner}`;
    const port = `${spec.engine.image.port}/tcp`;
    const options: Docker.ContainerCreateOptions = {
      name,
      Image: spec.image,
      // The official images' entrypoint runs the server when the first argument is an option.
      Cmd: [...spec.args],
      Env: Object.entries({
        ...spec.engine.image.env(),
        ...(spec.init ? spec.engine.image.initEnv(spec.init.adminPassword, spec.init.database) : {}),
      }).map(([k, v]) => `${k}=${v}`),
      User: this.#user,
      // The engine's clean, prompt shutdown, whatever the image declares.
      StopSignal: spec.engine.image.stopSignal,
      Labels: {
        [LABELS.controller]: this.#controllerId,
        [LABELS.kind]: spec.role,
        [LABELS.name]: spec.owner,
        [LABELS.template]: spec.template,
        [LABELS.version]: spec.templateVersion,
        [LABELS.port]: String(spec.engine.image.port),
      },
      ExposedPorts: { [port]: {} },
      HostConfig: {
        Binds: [`${spec.dataDir}:${spec.engine.image.dataDir}`],
        // A mount, not a bind string: a dump's path may hold a ':'.
        ...(spec.inputFile
          ? {
              Mounts: [{ Type: 'bind' as const, Source: spec.inputFile, Target: INPUT_PATH, ReadOnly: true }],
            }
          : {}),
        PortBindings: {
          [port]: [{ HostIp: this.#publishAddress, HostPort: spec.hostPort ? String(spec.hostPort) : '' }],
        },
        ...(spec.memoryMiB ? { Memory: spec.memoryMiB * 1024 * 1024 } : {}),
      },
    };
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer(options);
    } catch (error) {
      if (statusCode(error) !== 409) throw error;
      // Left by a controller killed between create and record: it is ours by name; replace it.
      this.#log.warn({ name }, 'replacing a leftover container of the same name');
      await this.remove(name);
      container = await this.#docker.createContainer(options);
    }
    try {
      await container.start();
    } catch (error) {
      await this.remove(container.id);
      // "Bind for ... failed: port is already allocated" (another container), "bind: address already in use".
      const message = (error as Error).message;
      if (spec.hostPort && /already allocated|address already in use/.test(message))
        throw new Error(
          `port ${spec.hostPort} on ${this.#publishAddress}: address already in use (another program or container holds it): stop it or choose another port`,
        );
      throw error;
    }
    return this.#inspectUntilPort(container.id);
  }
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    try {
      await this.#docker.getContainer(id).stop({ t: timeoutSeconds });
    } catch (error) {
      if (statusCode(error) !== 304 && statusCode(error) !== 404) throw error;
    }
  }
  async pause(id: string): Promise<void> {
    await this.#docker.getContainer(id).pause();
  }
  async resume(id: string): Promise<void> {
    try {
      await this.#docker.getContainer(id).unpause();
    } catch (error) {
      // Not paused (409) or gone (404): nothing is frozen.
      if (statusCode(error) !== 404 && statusCode(error) !== 409) throw error;
    }
  }
  async remove(id: string): Promise<void> {
    try {
      await this.#docker.getContainer(id).remove({ force: true, v: true });
    } catch (error) {
      if (statusCode(error) !== 404 && statusCode(error) !== 409) throw error;
    }
  }
  async logs(id: string, lines: number): Promise<string> {
    try {
      const raw = (await this.#docker
        .getContainer(id)
        .logs({ stdout: true, stderr: true, tail: lines })) as unknown as Buffer;
      return demuxBuffer(raw).trim();
    } catch {
      return '';
    }
  }
  watch(onEvent: (event: RuntimeEvent) => void): () => void {
    let stopped = false;
    let since = Math.floor(Date.now() / 1000);
    let current: NodeJS.ReadableStream | undefined;
    let lost = false;
    const connect = async () => {
      while (!stopped && !this.#closed) {
        try {
          const stream = (await this.#docker.getEvents({
            since,
            filters: { type: ['container'], label: [`${LABELS.controller}=${this.#controllerId}`] },
          })) as NodeJS.ReadableStream;
          current = stream;
          // Back after a disconnect: events are flowing again, so a full re-list now misses nothing
          // (`since` replays what dockerd kept; the re-list covers what it did not).
          if (lost && !stopped) onEvent({ role: 'Database', owner: '', action: 'reconnect' });
          lost = false;
          let buffered = '';
          await new Promise<void>((resolve) => {
            stream.on('data', (chunk: Buffer) => {
              buffered += chunk.toString('utf8');
              let newline = buffered.indexOf('\n');
              while (newline >= 0) {
                const line = buffered.slice(0, newline);
                buffered = buffered.slice(newline + 1);
                newline = buffered.indexOf('\n');
                try {
                  const event = JSON.parse(line) as {
                    Action: string;
                    time: number;
                    Actor: { ID?: string; Attributes: Record<string, string> };
                  };
                  since = Math.max(since, event.time);
                  const attributes = event.Actor.Attributes;
                  onEvent({
                    ...(event.Actor.ID ? { id: event.Actor.ID } : {}),
                    role: attributes[LABELS.kind] as ServerRole,
                    owner: attributes[LABELS.name] ?? '',
                    action: event.Action,
                  });
                } catch {
                  // a partial or foreign line: ignore
                }
              }
            });
            stream.on('end', resolve);
            stream.on('close', resolve);
            stream.on('error', () => resolve());
          });
        } catch (error) {
          this.#log.debug({ err: error }, 'docker events unavailable; retrying');
        }
        if (stopped || this.#closed) break;
        // The stream ended (dockerd restarted, the socket dropped): say so now, so the loop re-lists
        // while events are lost, and again once they flow (above).
        if (!lost) this.#log.warn('docker event stream lost; reconnecting');
        lost = true;
        onEvent({ role: 'Database', owner: '', action: 'reconnect' });
        await sleep(1000);
      }
    };
    void connect();
    return () => {
      stopped = true;
      (current as unknown as { destroy?: () => void })?.destroy?.();
    };
  }
  /** Right after start the published port can be missing for a moment: inspect again. */
  async #inspectUntilPort(id: string): Promise<ServerInfo> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const info = await this.inspect(id);
      if (!info) throw new Error(`container ${id.slice(0, 12)} vanished right after start`);
      if (info.hostPort || !info.running) return info;
      await sleep(20);
    }
    throw new Error(`container ${id.slice(0, 12)} has no published port`);
  }
}

/** Programs run inside a server's container (`docker exec`), with its input file mounted. */
class DockerPrograms implements ProgramsBeside {
  /** A dump's shell escape (a client without a sandbox) runs in the import container, as its user. */
  readonly place = 'container' as const;
  readonly #docker: Docker;
  readonly #user: string;

  constructor(docker: Docker, containerUser: string) {
    this.#docker = docker;
    this.#user = containerUser;
  }

  async exec(
    id: string,
    argv: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Promise<ExecSession> {
    const exec = await this.#docker.getContainer(id).exec({
      Cmd: [...argv],
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
    });
    // The hijacked connection is the program's stdin; ending it half-closes, and the program sees EOF.
    const stream = (await exec.start({ hijack: true, stdin: true })) as Duplex;
    const output = new TailBuffer(64 * 1024);
    const listeners: ((text: string) => void)[] = [];
    const sink = new PassThrough();
    // A character split across frames is decoded whole.
    const decoder = new StringDecoder('utf8');
    sink.on('data', (chunk: Buffer) => {
      output.push(chunk);
      const text = decoder.write(chunk);
      for (const listener of listeners) listener(text);
    });
    this.#docker.modem.demuxStream(stream, sink, sink);
    // Done once the sink has passed on every byte: the last lines (often the error) arrive after
    // the connection's own end, and a result without them would lose them.
    const finish = () => {
      if (!sink.writableEnded) sink.end();
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
    const ended = new Promise<void>((resolve) => sink.on('end', resolve));
    return {
      stdin: stream,
      onOutput: (listener) => listeners.push(listener),
      result: ended.then(async () => ({
        // The container may be gone already (an aborted import): the exit code is then unknown.
        exitCode: (await exec.inspect().catch(() => undefined))?.ExitCode ?? -1,
        output: output.toString(),
      })),
      abort: () => stream.destroy(),
    };
  }
  inputPath(): string {
    return INPUT_PATH;
  }
  async canReadInput(hostPath: string): Promise<boolean> {
    // Programs in the container run as its user (--container-user), not as the controller.
    const [uid, gid] = this.#user.split(':').map(Number);
    const s = await stat(hostPath);
    return Boolean(s.mode & 0o004 || (s.uid === uid && s.mode & 0o400) || (s.gid === gid && s.mode & 0o040));
  }
  endpoint(server: ServerInfo): Endpoint {
    return { host: '127.0.0.1', port: server.serverPort ?? 0 };
  }
}

/** Images, present or pulled: a server's image must be there before its container is made. */
class DockerImages {
  readonly #docker: Docker;
  readonly #log: Logger;

  constructor(docker: Docker, log: Logger) {
    this.#docker = docker;
    this.#log = log;
  }

  /** Makes sure the image is present, pulling it when it is not. */
  async ensure(image: string): Promise<void> {
    try {
      await this.#docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (statusCode(error) !== 404) throw error;
    }
    this.#log.info({ image }, 'pulling image');
    try {
      const stream = await this.#docker.pull(image);
      await new Promise<void>((resolve, reject) =>
        this.#docker.modem.followProgress(stream, (error: Error | null) =>
          error ? reject(error) : resolve(),
        ),
      );
    } catch (error) {
      throw new Error(
        `image ${image} is not present and cannot be pulled (${(error as Error).message}): pull or build it, or set spec.image / --image`,
      );
    }
  }
}

/** Datadirs for containers: the format is the image's (its id), the owner the container user. */
class DockerDataDirs implements DataDirFormat {
  readonly #docker: Docker;
  readonly #images: DockerImages;
  readonly #user: string;

  constructor(docker: Docker, images: DockerImages, containerUser: string) {
    this.#docker = docker;
    this.#images = images;
    this.#user = containerUser;
  }

  async identity(image: string, engine: Engine): Promise<string> {
    await this.#images.ensure(image);
    const id = (await this.#docker.getImage(image).inspect()).Id;
    return `${engine.name}-${id.replace(/^sha256:/, '').slice(0, 16)}`;
  }
  async prepare(dataDir: string): Promise<void> {
    const [uid, gid] = this.#user.split(':').map(Number);
    await chown(dataDir, uid ?? 999, gid ?? uid ?? 999);
  }
}

/** When the container started (running) or finished; Docker says year 1 for "never". */
function stateSince(state: Docker.ContainerInspectInfo['State']): { since?: number } {
  const since = Date.parse(state.Running ? state.StartedAt : state.FinishedAt);
  return Number.isFinite(since) && since > 0 ? { since } : {};
}

/** Non-TTY Docker output is framed: 8-byte header (stream, 0, 0, 0, size BE32) then payload. */
function demuxBuffer(raw: Buffer): string {
  if (!Buffer.isBuffer(raw)) return String(raw);
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const size = raw.readUInt32BE(offset + 4);
    parts.push(raw.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
