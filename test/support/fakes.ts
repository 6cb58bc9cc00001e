import { PassThrough } from 'node:stream';
import type { Credentials, Endpoint, ServerAdmin } from '../../controller/engine/engine.js';
import { MariadbEngine } from '../../controller/engine/mariadb/index.js';
import { type SchemaSnapshot, emptySchema, keyOf } from '../../controller/objects/index.js';
import type {
  DeclaredSpec,
  DesiredState,
  Kind,
  ObjectKey,
  ObjectOfKind,
  SpecObject,
} from '../../controller/objects/index.js';
import type {
  DataDirFormat,
  ExecResult,
  ExecSession,
  ProgramsBeside,
  Runtime,
  RuntimeEvent,
  ServerControl,
  ServerInfo,
  ServerSpec,
} from '../../controller/runtime/runtime.js';
import { digestOf } from '../../controller/spec/parse.js';
import type { SpecProblem } from '../../controller/spec/problems.js';

type FakeServer = ServerInfo & { spec: ServerSpec };

/** In-memory servers (a Map by id, as tests inspect them) that record every call. */
export class FakeServers extends Map<string, FakeServer> implements ServerControl {
  readonly calls: string[] = [];
  #next = 1;
  #port = 40000;
  /** Make the next create fail with this error. */
  failNextCreate: Error | undefined;

  async list(): Promise<ServerInfo[]> {
    return [...this.values()];
  }
  async inspect(id: string): Promise<ServerInfo | undefined> {
    return this.get(id);
  }
  async create(spec: ServerSpec): Promise<ServerInfo> {
    this.calls.push(`create ${spec.role}/${spec.owner}`);
    if (this.failNextCreate) {
      const error = this.failNextCreate;
      this.failNextCreate = undefined;
      throw error;
    }
    const id = `c${this.#next++}`;
    const info = {
      id,
      role: spec.role,
      owner: spec.owner,
      templateVersion: spec.templateVersion,
      running: true,
      since: Date.now(),
      hostPort: spec.hostPort ?? this.#port++,
      createdAt: Date.now(),
      spec,
    };
    this.set(id, info);
    return info;
  }
  async stop(id: string): Promise<void> {
    this.calls.push(`stop ${id}`);
    const s = this.get(id);
    if (s) this.set(id, { ...s, running: false, since: Date.now(), exitCode: 0 });
  }
  async pause(id: string): Promise<void> {
    this.calls.push(`pause ${id}`);
  }
  async resume(id: string): Promise<void> {
    this.calls.push(`resume ${id}`);
  }
  async remove(id: string): Promise<void> {
    this.calls.push(`remove ${id}`);
    this.delete(id);
  }
  async logs(): Promise<string> {
    return 'fake log line';
  }
  watch(_onEvent: (event: RuntimeEvent) => void): () => void {
    return () => undefined;
  }
}

/** Clients that accept anything: reconcile logic never runs one. */
class FakePrograms implements ProgramsBeside {
  readonly place = 'container' as const;
  async exec(): Promise<ExecSession> {
    return new FakeSession();
  }
  endpoint(): Endpoint {
    return { host: '127.0.0.1', port: 3306 };
  }
  inputPath(hostPath: string): string {
    return hostPath;
  }
  async canReadInput(): Promise<boolean> {
    return true;
  }
}

/** In-memory runtime for unit tests of reconcile logic: records every call. */
export class FakeRuntime implements Runtime {
  readonly name = 'docker' as const;
  readonly connectHost = '127.0.0.1';
  readonly servers = new FakeServers();
  readonly programs = new FakePrograms();
  readonly datadirs: DataDirFormat = {
    identity: async () => 'mariadb-fake',
    prepare: async () => undefined,
  };

  get calls(): string[] {
    return this.servers.calls;
  }
  /** Make the next create fail with this error. */
  set failNextCreate(error: Error | undefined) {
    this.servers.failNextCreate = error;
  }
  async close(): Promise<void> {}
}

/** A server admin whose servers are ready at once; records configured clones. */
export class FakeAdmin implements ServerAdmin {
  readonly user = 'root';
  readonly configured: { admin: Credentials; user: Credentials }[] = [];
  notReady: Error | undefined;
  isAccessDenied(error: unknown): boolean {
    return (error as { code?: string } | undefined)?.code === 'ER_ACCESS_DENIED_ERROR';
  }
  async waitReady(): Promise<void> {
    if (this.notReady) throw this.notReady;
  }
  async adoptImportServer(): Promise<void> {}
  async atConsistentPoint<T>(
    _endpoint: Endpoint,
    _admin: Credentials,
    copy: () => Promise<T>,
  ): Promise<{ result: T; lockMs: number }> {
    return { result: await copy(), lockMs: 0 };
  }
  async prepareClone(): Promise<void> {}
  async configureClone(
    _endpoint: Endpoint,
    _admins: Credentials[],
    admin: Credentials,
    user: Credentials,
  ): Promise<void> {
    this.configured.push({ admin, user });
  }
  /** What readSchema answers: an empty schema unless the test sets one. */
  schema: SchemaSnapshot = emptySchema();
  async readSchema(): Promise<SchemaSnapshot> {
    return this.schema;
  }
  /** Client sessions per port (what clientSessions answers; 0 when not set); an Error is thrown. */
  readonly sessions = new Map<number, number | Error>();
  async clientSessions(endpoint: Endpoint): Promise<number> {
    const answer = this.sessions.get(endpoint.port) ?? 0;
    if (answer instanceof Error) throw answer;
    return answer;
  }
}

/**
 * MariaDB's pure parts (image contract, loader, client) with a fake admin: reconcile logic talks to
 * servers only through `admin`, the rest it passes on to the runtime.
 */
export class FakeEngine extends MariadbEngine {
  override readonly admin: FakeAdmin = new FakeAdmin();

  get configured() {
    return this.admin.configured;
  }
  set notReady(error: Error | undefined) {
    this.admin.notReady = error;
  }
}

/** A desired state set directly by the test. */
export class FakeDesired implements DesiredState {
  synced = true;
  available = true;
  readonly records = new Map<ObjectKey, DeclaredSpec>();

  set(object: SpecObject, extra: Partial<DeclaredSpec> = {}): DeclaredSpec {
    const key = keyOf(object);
    const old = this.records.get(key);
    const digest = digestOf(object);
    const record: DeclaredSpec = {
      key,
      object,
      file: `${object.metadata.name}.yaml`,
      line: 1,
      fileMtimeMs: 1,
      digest,
      generation: old ? (old.digest === digest ? old.generation : old.generation + 1) : 1,
      ...extra,
    };
    this.records.set(key, record);
    return record;
  }
  delete(key: ObjectKey): void {
    this.records.delete(key);
  }
  absenceTrusted(): boolean {
    return this.synced && this.available;
  }
  get<K extends Kind>(key: `${K}/${string}`): DeclaredSpec<ObjectOfKind<K>> | undefined {
    return this.records.get(key) as DeclaredSpec<ObjectOfKind<K>> | undefined;
  }
  list<K extends Kind>(kind: K): DeclaredSpec<ObjectOfKind<K>>[];
  list(): DeclaredSpec[];
  list(kind?: Kind): DeclaredSpec[] {
    return [...this.records.values()].filter((r) => !kind || r.object.kind === kind);
  }
  problems(): SpecProblem[] {
    return [];
  }
  subscribe(): () => void {
    return () => undefined;
  }
}

/**
 * A client session that records its input and answers barrier markers (`SELECT 'myaas-barrier-N';`)
 * on its output, as the mariadb client in batch mode does. `failOn` makes it exit 1 on a matching line.
 */
export class FakeSession implements ExecSession {
  readonly stdin = new PassThrough();
  readonly received: string[] = [];
  readonly result: Promise<ExecResult>;
  #listeners: ((text: string) => void)[] = [];
  #buffer = '';

  constructor(
    failOn?: RegExp,
    /** What the client says when it fails on a line (its number given). */
    failure = (line: number) => `ERROR 1064 (42000) at line ${line}: bad`,
  ) {
    this.result = new Promise((resolve) => {
      this.stdin.on('data', (chunk: Buffer) => {
        this.#buffer += chunk.toString('utf8');
        let newline = this.#buffer.indexOf('\n');
        while (newline >= 0) {
          const line = this.#buffer.slice(0, newline);
          this.#buffer = this.#buffer.slice(newline + 1);
          newline = this.#buffer.indexOf('\n');
          this.received.push(line);
          if (failOn?.test(line)) {
            this.stdin.destroy();
            resolve({ exitCode: 1, output: failure(this.received.length) });
            return;
          }
          const marker = /^SELECT '(myaas-barrier-\d+)'/.exec(line);
          if (marker) setImmediate(() => this.#listeners.forEach((l) => l(`${marker[1]}\n${marker[1]}\n`)));
        }
      });
      this.stdin.on('end', () => resolve({ exitCode: 0, output: '' }));
    });
  }

  onOutput(listener: (text: string) => void): void {
    this.#listeners.push(listener);
  }

  abort(): void {
    this.stdin.destroy();
  }
}
