import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, closeSync, openSync } from 'node:fs';
import { access, chown, mkdir, readFile, readdir, realpath, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import path from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Endpoint, Engine } from '../engine/engine.js';
import type { Logger } from '../log.js';
import type { EngineName } from '../objects/index.js';
import { run } from '../util/exec.js';
import { readJson, writeJsonAtomic } from '../util/files.js';
import { killGroup } from '../util/kill-group.js';
import { TailBuffer } from '../util/tail-buffer.js';
import {
  type DataDirFormat,
  type ExecResult,
  type ExecSession,
  type ProgramsBeside,
  type Runtime,
  type RuntimeEvent,
  type ServerControl,
  type ServerInfo,
  type ServerRole,
  type ServerSpec,
  roleTag,
} from './runtime.js';

/** What the process runtime knows of one server, in `run/<id>/server.json`. */
interface ServerFile {
  readonly id: string;
  readonly role: ServerRole;
  readonly owner: string;
  readonly template: string;
  readonly templateVersion: string;
  readonly engine: EngineName;
  readonly dataDir: string;
  readonly args: readonly string[];
  readonly createdAt: number;
  port: number;
  pid?: number;
  startedAt?: number;
  /** Stopped on purpose: its absence is not a crash. */
  stopped: boolean;
  /** When `stop` was asked for (epoch ms). */
  stoppedAt?: number;
}

export interface ProcessRuntimeOptions {
  /** Data root: server files live in `<root>/run/<id>/`. */
  readonly root: string;
  readonly engineFor: (name: EngineName) => Engine;
  readonly log: Logger;
  /** OS user servers run as when the controller is root. @default mysql */
  readonly serverUser?: string;
  /** Host address servers listen on. @default 127.0.0.1 */
  readonly bindAddress?: string;
  /** How often to look for servers that died. @default 1000 */
  readonly pollMs?: number;
}

/**
 * Database servers as processes on this host (the engines' own server programs): each with its own
 * datadir, port, socket, pid file and error log. They outlive the controller; a restarted one
 * re-adopts them by pid file, liveness and command line, and never starts a duplicate.
 */
export class ProcessRuntime implements Runtime {
  readonly name = 'process' as const;
  readonly connectHost = '127.0.0.1';
  readonly servers: ProcessServers;
  readonly programs: HostPrograms;
  readonly datadirs: HostDataDirs;
  readonly #runDir: string;
  readonly #users: HostUsers;

  constructor(options: ProcessRuntimeOptions) {
    this.#runDir = path.join(options.root, 'run');
    this.#users = new HostUsers(options.serverUser);
    this.servers = new ProcessServers(this.#runDir, options, this.#users);
    this.programs = new HostPrograms(this.#users, (id) => this.servers.engineOf(id));
    this.datadirs = new HostDataDirs(this.#users);
  }

  /** Throws with the fix when the host lacks the server programs or the user to run them as. */
  async check(engine: Engine): Promise<void> {
    await engine.host.check();
    await mkdir(this.#runDir, { recursive: true });
    await this.#users.ownerFor(engine);
  }
  async close(): Promise<void> {}
}

/** Which OS user servers run as: ours, or (when we are root) the engine's own or the one configured. */
class HostUsers {
  readonly asRoot = process.getuid?.() === 0;
  readonly #owners = new Map<string, { uid: number; gid: number }>();

  constructor(readonly override: string | undefined) {}

  userFor(engine: Engine): string {
    return this.override ?? engine.host.user;
  }

  /** The server's OS user when the controller is root (servers never run as root); none otherwise. */
  async ownerFor(engine: Engine): Promise<{ uid: number; gid: number } | undefined> {
    if (!this.asRoot) return undefined;
    const user = this.userFor(engine);
    const known = this.#owners.get(user);
    if (known) return known;
    try {
      const uid = Number((await run('id', ['-u', user])).trim());
      const gid = Number((await run('id', ['-g', user])).trim());
      this.#owners.set(user, { uid, gid });
      return { uid, gid };
    } catch {
      throw new Error(
        `runtime process runs ${engine.name} servers as the user ${user} when myaas runs as root, and there is none: install the server package (it creates it) or create the user`,
      );
    }
  }
}

/** The server processes, each described by `run/<id>/server.json`. */
class ProcessServers implements ServerControl {
  readonly #root: string;
  readonly #engineFor: (name: EngineName) => Engine;
  readonly #log: Logger;
  readonly #users: HostUsers;
  readonly #pollMs: number;
  readonly #bindAddress: string;

  constructor(root: string, options: ProcessRuntimeOptions, users: HostUsers) {
    this.#root = root;
    this.#engineFor = options.engineFor;
    this.#log = options.log.child({ component: 'process-runtime' });
    this.#users = users;
    this.#pollMs = options.pollMs ?? 1000;
    this.#bindAddress = options.bindAddress ?? '127.0.0.1';
  }

  async list(): Promise<ServerInfo[]> {
    let ids: string[];
    try {
      ids = await readdir(this.#root);
    } catch {
      return [];
    }
    const out: ServerInfo[] = [];
    for (const id of ids) {
      const info = await this.inspect(id);
      if (info) out.push(info);
    }
    return out;
  }
  async inspect(id: string): Promise<ServerInfo | undefined> {
    const file = await this.#read(id);
    if (!file) return undefined;
    const running = await this.#alive(file);
    return {
      id,
      role: file.role,
      owner: file.owner,
      templateVersion: file.templateVersion,
      running,
      ...(running
        ? { since: file.startedAt ?? file.createdAt }
        : file.stoppedAt
          ? { since: file.stoppedAt }
          : {}),
      hostPort: file.port,
      createdAt: file.createdAt,
      ...(running ? {} : { exitCode: file.stopped ? 0 : 1 }),
    };
  }
  async create(spec: ServerSpec): Promise<ServerInfo> {
    await spec.engine.host.check();
    const id = `${roleTag(spec.role)}-${spec.owner}`;
    const existing = await this.#read(id);
    if (existing) {
      // Left by a controller killed between create and record: replace it.
      this.#log.warn({ id }, 'replacing a leftover server of the same name');
      await this.remove(id);
    }
    // A server that cannot bind exits, and its clients would reach whatever holds the port instead.
    if (spec.hostPort !== undefined) await assertPortFree(this.#bindAddress, spec.hostPort);
    const dir = this.#dir(id);
    await mkdir(dir, { recursive: true });
    const owner = await this.#users.ownerFor(spec.engine);
    if (owner) await chown(dir, owner.uid, owner.gid);
    if (spec.init && !(await spec.engine.host.isInitialized(spec.dataDir))) {
      await spec.engine.host.initialize({
        ...this.#paths(id, 0, spec.dataDir, [], spec.engine),
        adminPassword: spec.init.adminPassword,
        database: spec.init.database,
      });
    }
    const file: ServerFile = {
      id,
      role: spec.role,
      owner: spec.owner,
      template: spec.template,
      templateVersion: spec.templateVersion,
      engine: spec.engine.name,
      dataDir: spec.dataDir,
      args: spec.args,
      createdAt: Date.now(),
      port: spec.hostPort ?? (await freePort()),
      stopped: false,
    };
    await this.#spawn(file);
    return (await this.inspect(id))!;
  }
  async stop(id: string, timeoutSeconds: number): Promise<void> {
    const file = await this.#read(id);
    if (!file) return;
    file.stopped = true;
    file.stoppedAt = Date.now();
    await this.#write(file);
    await this.#terminate(file, timeoutSeconds);
  }
  async pause(id: string): Promise<void> {
    const file = await this.#read(id);
    if (!file?.pid || !(await this.#alive(file))) throw new Error(`server ${id} is not running`);
    // The server first, so it starts no new child meanwhile; then every descendant. Not a signal to
    // the process group: PostgreSQL's backends call setsid() and leave it, and a backend still
    // writing while the files are copied would make the copy inconsistent.
    process.kill(file.pid, 'SIGSTOP');
    for (const pid of await descendantsOf(file.pid)) signalIfAlive(pid, 'SIGSTOP');
  }
  async resume(id: string): Promise<void> {
    const file = await this.#read(id);
    if (!file?.pid) return;
    for (const pid of await descendantsOf(file.pid)) signalIfAlive(pid, 'SIGCONT');
    signalIfAlive(file.pid, 'SIGCONT');
  }
  async remove(id: string): Promise<void> {
    const file = await this.#read(id);
    if (file) {
      file.stopped = true;
      await this.#write(file);
      await this.#terminate(file, 0);
    }
    await rm(this.#dir(id), { recursive: true, force: true });
  }
  async logs(id: string, lines: number): Promise<string> {
    try {
      const text = await readFile(path.join(this.#dir(id), 'error.log'), 'utf8');
      return text.trim().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
  watch(onEvent: (event: RuntimeEvent) => void): () => void {
    const alive = new Map<string, boolean>();
    const timer = setInterval(async () => {
      for (const server of await this.list().catch(() => [])) {
        if (alive.get(server.id) && !server.running)
          onEvent({ id: server.id, role: server.role, owner: server.owner, action: 'die' });
        alive.set(server.id, server.running);
      }
    }, this.#pollMs);
    timer.unref();
    return () => clearInterval(timer);
  }
  /** The engine of a server this runtime made. */
  async engineOf(id: string): Promise<Engine> {
    const file = await this.#read(id);
    if (!file) throw new Error(`no server ${id}`);
    return this.#engineFor(file.engine);
  }
  #dir(id: string): string {
    if (!/^(db|import|pool)-[a-z0-9.-]+$/.test(id)) throw new Error(`\`${id}\` is not a server id`);
    return path.join(this.#root, id);
  }
  #paths(id: string, port: number, dataDir: string, args: readonly string[], engine: Engine) {
    const dir = this.#dir(id);
    let socket = path.join(dir, 'server.sock');
    // Unix socket paths are limited to 108 bytes: deep data roots get a short one in /tmp.
    if (socket.length > 100)
      socket = `/tmp/myaas-${createHash('sha256').update(socket).digest('hex').slice(0, 16)}.sock`;
    return {
      dataDir,
      port,
      socket,
      pidFile: path.join(dir, 'server.pid'),
      errorLog: path.join(dir, 'error.log'),
      args,
      bindAddress: this.#bindAddress,
      ...(this.#users.asRoot ? { user: this.#users.userFor(engine) } : {}),
    };
  }
  async #spawn(file: ServerFile): Promise<void> {
    const engine = this.#engineFor(file.engine);
    await engine.host.check();
    const { command, args, switchUser } = engine.host.command(
      this.#paths(file.id, file.port, file.dataDir, file.args, engine),
    );
    const owner = switchUser ? await this.#users.ownerFor(engine) : undefined;
    // Servers that log to stderr (postgres) log into error.log, where `logs` reads.
    const out = openSync(path.join(this.#dir(file.id), switchUser ? 'error.log' : 'stdout.log'), 'a');
    try {
      // Detached in its own process group: the server outlives the controller, even a kill -9 of it.
      const child = spawn(command, args, {
        detached: true,
        stdio: ['ignore', out, out],
        ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      });
      child.on('error', (error) => this.#log.error({ err: error, id: file.id }, 'server failed to spawn'));
      child.unref();
      file.pid = child.pid;
    } finally {
      closeSync(out);
    }
    file.startedAt = Date.now();
    file.stopped = false;
    await this.#write(file);
  }
  /** Alive, and really that server: the pid could have been reused by anything after a reboot. */
  async #alive(file: ServerFile): Promise<boolean> {
    const pid = file.pid;
    if (!pid) return false;
    try {
      process.kill(pid, 0);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
    }
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
      // mariadbd --datadir=<dir>, postgres -D <dir>
      return cmdline.includes(`--datadir=${file.dataDir}`) || cmdline.includes(file.dataDir);
    } catch {
      return process.platform !== 'linux';
    }
  }
  async #terminate(file: ServerFile, timeoutSeconds: number): Promise<void> {
    if (!file.pid || !(await this.#alive(file))) return;
    // The engine's clean shutdown; for a removal, or after the timeout, its immediate one (which
    // takes the server's children down too), and SIGKILL as the last resort.
    const engine = this.#engineFor(file.engine);
    const signals = [
      ...new Set<NodeJS.Signals>([
        ...(timeoutSeconds > 0 ? [engine.image.stopSignal] : []),
        engine.host.killSignal,
        'SIGKILL',
      ]),
    ];
    let waitMs = Math.max(timeoutSeconds, 5) * 1000;
    for (const signal of signals) {
      process.kill(file.pid, signal);
      const deadline = Date.now() + waitMs;
      while (Date.now() <= deadline) {
        if (!(await this.#alive(file))) return;
        await sleep(50);
      }
      waitMs = 5000;
    }
  }
  async #read(id: string): Promise<ServerFile | undefined> {
    return readJson<ServerFile>(path.join(this.#dir(id), 'server.json')).catch(() => undefined);
  }
  async #write(file: ServerFile): Promise<void> {
    await writeJsonAtomic(path.join(this.#dir(file.id), 'server.json'), file, 0o644);
  }
}

/**
 * The engines' clients run on the host: as the controller's own user, or, when that is root, as the
 * server's OS user (like the server itself; a client never runs as root).
 */
class HostPrograms implements ProgramsBeside {
  /** A dump's shell escape would run on this host: the loaders turn the clients' escapes off. */
  readonly place = 'host' as const;
  readonly #users: HostUsers;
  readonly #engineOf: (id: string) => Promise<Engine>;

  constructor(users: HostUsers, engineOf: (id: string) => Promise<Engine>) {
    this.#users = users;
    this.#engineOf = engineOf;
  }

  inputPath(hostPath: string): string {
    // Programs run on the host: the file is where it is.
    return hostPath;
  }
  async canReadInput(hostPath: string, engine: Engine): Promise<boolean> {
    const owner = await this.#users.ownerFor(engine);
    if (!owner)
      return access(hostPath, constants.R_OK).then(
        () => true,
        () => false,
      );
    // As the user the clients run as: the file's mode, its owner and every folder on its path count.
    return new Promise((resolve) => {
      const test = spawn('test', ['-r', hostPath], { stdio: 'ignore', uid: owner.uid, gid: owner.gid });
      test.once('error', () => resolve(false));
      test.once('close', (code) => resolve(code === 0));
    });
  }
  async exec(
    id: string,
    argv: readonly string[],
    env: Readonly<Record<string, string>>,
  ): Promise<ExecSession> {
    const [command, ...args] = argv;
    if (!command) throw new Error('exec needs a program');
    const owner = this.#users.asRoot ? await this.#users.ownerFor(await this.#engineOf(id)) : undefined;
    const child = spawn(command, args, {
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
      // A group of its own, so that abort ends what it started too (the loader's LOAD DATA client
      // is `sh -c 'cat | mariadb ...'`: killing sh alone would leave cat reading forever).
      detached: true,
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    });
    const output = new TailBuffer(64 * 1024);
    const listeners: ((text: string) => void)[] = [];
    // One decoder per stream: a character split across reads is decoded whole.
    const collect = (decoder: StringDecoder) => (chunk: Buffer) => {
      output.push(chunk);
      const text = decoder.write(chunk);
      for (const listener of listeners) listener(text);
    };
    child.stdout.on('data', collect(new StringDecoder('utf8')));
    child.stderr.on('data', collect(new StringDecoder('utf8')));
    child.stdin.on('error', () => undefined); // the program quit early: its exit code says why
    const result = new Promise<ExecResult>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (code) => resolve({ exitCode: code ?? -1, output: output.toString() }));
    });
    return {
      stdin: child.stdin,
      onOutput: (listener) => listeners.push(listener),
      result,
      abort: () => {
        killGroup(child);
        child.stdin.destroy();
      },
    };
  }
  endpoint(server: ServerInfo): Endpoint {
    return { host: '127.0.0.1', port: server.hostPort ?? 0 };
  }
}

/** Datadirs for host servers: the format is the host server program's, the owner its user. */
class HostDataDirs implements DataDirFormat {
  readonly #users: HostUsers;

  constructor(users: HostUsers) {
    this.#users = users;
  }

  async identity(_image: string, engine: Engine): Promise<string> {
    await engine.host.check();
    const { command } = engine.host.command({
      dataDir: '',
      port: 0,
      socket: '',
      pidFile: '',
      errorLog: '',
      bindAddress: '127.0.0.1',
      args: [],
    });
    const s = await stat(await realpath(command));
    return `${engine.name}-host-${createHash('sha256').update(`${command}:${s.size}:${s.mtimeMs}`).digest('hex').slice(0, 16)}`;
  }
  async prepare(dataDir: string, engine: Engine): Promise<void> {
    const owner = await this.#users.ownerFor(engine);
    if (owner) await chown(dataDir, owner.uid, owner.gid);
  }
}

/** Throws `port N on ADDRESS: address already in use` when something listens on that port now. */
function assertPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new Error(
          error.code === 'EADDRINUSE'
            ? `port ${port} on ${host}: address already in use (another program listens there): stop it or choose another port`
            : `port ${port} on ${host}: ${error.message}`,
        ),
      ),
    );
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve()));
  });
}

/** A port free right now; the server binding it later can still lose a race, and is then restarted. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Every process under `root` (children, their children...), read from /proc. */
async function descendantsOf(root: number): Promise<number[]> {
  const children = new Map<number, number[]>();
  for (const entry of await readdir('/proc').catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => undefined);
    if (!stat) continue;
    // pid (comm) state ppid ...: comm may hold spaces and parentheses; the last ')' ends it.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

function signalIfAlive(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
