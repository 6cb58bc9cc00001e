import { DEFAULT_ENGINE } from '../engine/defaults.js';
import type { Credentials, Engine } from '../engine/engine.js';
import type { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import type { BranchLineage, DatabaseRecord, DesiredState, EngineName } from '../objects/index.js';
import { type Runtime, runningDatabaseServer } from '../runtime/runtime.js';
import type { StatusStore } from '../state/status-store.js';
import type { Storage } from '../storage/storage.js';
import {
  type BranchPointTaken,
  type CopyKind,
  type LiveSource,
  cloneAs,
  takeBranchPoint,
} from './branch-point.js';

/** What finding and copying a source database needs: the desired state, status, and the drivers. */
export interface BranchSourceDeps {
  readonly desired: DesiredState;
  readonly store: StatusStore;
  readonly runtime: Runtime;
  readonly storage: Storage;
  readonly layout: Layout;
  readonly engineFor: (name: EngineName) => Engine;
  readonly log: Logger;
}

/**
 * A database to copy from, found ready: running (copied at a consistent point while it serves) or
 * Stopped (its datadir is consistent: a clean shutdown left it). `admin` is the login its data holds,
 * which a copy starts with.
 */
export interface BranchSource {
  readonly name: string;
  readonly record: DatabaseRecord;
  readonly engine: Engine;
  readonly admin: Credentials;
  readonly live?: LiveSource;
}

/** Why a source cannot be copied now: it does not exist, or it is neither Ready nor Stopped yet. */
export interface SourceUnavailable {
  readonly reason: 'SourceNotFound' | 'SourceNotReady';
  readonly message: string;
}

export async function findBranchSource(
  deps: BranchSourceDeps,
  name: string,
  field: string,
): Promise<BranchSource | SourceUnavailable> {
  const stored = deps.store.get(`Database/${name}`);
  if (!deps.desired.get(`Database/${name}`) || !stored)
    return {
      reason: 'SourceNotFound',
      message: `source database "${name}" does not exist: create it first, or change ${field} (\`myaas get databases\` lists them)`,
    };
  const server = await runningDatabaseServer(deps.runtime, name, stored.record.adoptedServer);
  const stopped = !server && stored.status.phase === 'Stopped';
  if (!stopped && (!server || stored.status.phase !== 'Ready' || !stored.record.configured))
    return {
      reason: 'SourceNotReady',
      message: `waiting for database ${name} to be Ready (or Stopped): its data is copied from it as it runs`,
    };
  const engine = deps.engineFor(stored.record.engine ?? DEFAULT_ENGINE);
  const admin = { user: engine.admin.user, password: stored.record.adminPassword };
  const dataDir = deps.layout.databaseDir(name);
  return {
    name,
    record: stored.record,
    engine,
    admin,
    ...(server ? { live: { name, server, dataDir, engine, admin } } : {}),
  };
}

export function isUnavailable(found: BranchSource | SourceUnavailable): found is SourceUnavailable {
  return 'reason' in found;
}

/** Copies the source's data to `target` as one consistent point in time (see takeBranchPoint). */
export async function copyBranchSource(
  deps: BranchSourceDeps,
  source: BranchSource,
  target: string,
  copy: CopyKind = 'writable',
): Promise<BranchPointTaken> {
  if (source.live) return takeBranchPoint(deps, source.live, target, copy);
  const method = await cloneAs(deps.storage, copy, deps.layout.databaseDir(source.name), target);
  return { at: new Date(), method, lockMs: 0, pausedMs: 0 };
}

/** What a copy records of its origin: the source, the point, the template version under it, the cost. */
export function lineageOf(source: BranchSource, taken: BranchPointTaken): BranchLineage {
  return {
    database: source.name,
    at: taken.at.toISOString(),
    template: source.record.template,
    templateVersion: source.record.templateVersion ?? '',
    method: taken.method,
    lockMs: taken.lockMs,
    pausedMs: taken.pausedMs,
  };
}
