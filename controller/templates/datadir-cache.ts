import { rm } from 'node:fs/promises';
import type { Engine } from '../engine/engine.js';
import type { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import type { Runtime, ServerInfo } from '../runtime/runtime.js';
import { startAndWaitReady } from '../runtime/start-and-wait.js';
import type { Storage } from '../storage/storage.js';
import { newSecret, readJson, writeJsonAtomic } from '../util/files.js';

/** An initialised empty datadir, and the admin password it was made with. */
export interface CachedDataDir {
  readonly dir: string;
  readonly adminPassword: string;
  readonly createdAt: number;
}

/** Which server makes the datadir, and whose import asks (its labels go on the init server). */
export interface DataDirRequest {
  readonly template: string;
  readonly version: string;
  readonly engine: Engine;
  readonly image: string;
}

export interface DataDirCacheDeps {
  readonly layout: Layout;
  readonly storage: Storage;
  readonly runtime: Runtime;
  /** How long the server may take to initialise a datadir and accept connections. */
  readonly startTimeoutSeconds: number;
}

/**
 * Initialised empty datadirs, one per server identity (an image id, or the host's server program):
 * initialising one takes seconds, copying it milliseconds, so every import starts from a copy.
 */
export class DataDirCache {
  /** Builds under way, so two imports of one image build it once. */
  readonly #building = new Map<string, Promise<CachedDataDir>>();

  constructor(readonly deps: DataDirCacheDeps) {}

  /** The initialised empty datadir for this server identity, made once (by the image's own init). */
  async get(request: DataDirRequest, log: Logger): Promise<CachedDataDir> {
    const identity = await this.deps.runtime.datadirs.identity(request.image, request.engine);
    const dir = this.deps.layout.initCache(identity);
    const meta = await readJson<CachedDataDir>(`${dir}.json`).catch(() => undefined);
    if (meta && (await this.deps.storage.exists(dir))) return { ...meta, dir };
    let building = this.#building.get(identity);
    if (!building) {
      building = this.#build(request, identity, log).finally(() => this.#building.delete(identity));
      this.#building.set(identity, building);
    }
    return building;
  }

  async #build(request: DataDirRequest, identity: string, log: Logger): Promise<CachedDataDir> {
    const { layout, storage, runtime } = this.deps;
    const dir = layout.initCache(identity);
    const building = `${dir}.building`;
    // Whatever a crash left half-made goes first.
    await storage.remove(building);
    await storage.remove(dir);
    await rm(`${dir}.json`, { force: true });
    log.info({ identity }, 'initialising an empty datadir for this server (once per image)');
    await storage.createVolume(building);
    await runtime.datadirs.prepare(building, request.engine);
    const adminPassword = newSecret();
    const admin = { user: request.engine.admin.user, password: adminPassword };
    let server: ServerInfo | undefined;
    try {
      const create = async () => {
        server = await runtime.servers.create({
          role: 'Import',
          owner: request.template,
          template: request.template,
          templateVersion: request.version,
          image: request.image,
          dataDir: building,
          engine: request.engine,
          init: { adminPassword },
          args: [],
        });
        return server;
      };
      const deadline = Date.now() + this.deps.startTimeoutSeconds * 1000;
      const started = await startAndWaitReady(
        runtime,
        create,
        (endpoint, alive) => request.engine.admin.waitReady(endpoint, admin, deadline, alive),
        (reason) => new Error(`the server could not initialise a datadir: ${reason}`),
      );
      await runtime.servers.stop(started.id, 120);
      await runtime.servers.remove(started.id);
      await storage.seal(building, dir);
      const cached = { adminPassword, createdAt: Date.now() };
      await writeJsonAtomic(`${dir}.json`, cached);
      return { ...cached, dir };
    } catch (error) {
      if (server) await runtime.servers.remove(server.id).catch(() => undefined);
      await storage.remove(building).catch(() => undefined);
      throw error;
    }
  }
}
