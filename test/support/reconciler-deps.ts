import { mkdir } from 'node:fs/promises';
import { type ControllerConfig, defaultConfig } from '../../controller/config.js';
import type { Layout } from '../../controller/layout.js';
import { silentLogger } from '../../controller/log.js';
import type {
  DatabaseObject,
  DatabaseSpec,
  DesiredState,
  VersionMeta,
} from '../../controller/objects/index.js';
import { DeletionGuard, type DeletionGuardOptions } from '../../controller/reconcile/deletion-guard.js';
import type { ReconcilerDeps } from '../../controller/reconcile/reconciler-deps.js';
import type { Runtime } from '../../controller/runtime/runtime.js';
import type { StatusStore } from '../../controller/state/status-store.js';
import { CopyStorage } from '../../controller/storage/copy-storage.js';
import { TemplateVersions } from '../../controller/templates/template-versions.js';
import { Trash } from '../../controller/trash/trash.js';
import { WallClock } from '../../controller/util/wall-clock.js';
import type { FakeEngine } from './fakes.js';

/**
 * One builder for what reconciler tests put around a reconciler (a version on disk, the guard, the
 * trash, the rest of ReconcilerDeps), instead of the same thirty lines in every such test. Each test
 * still makes its own fakes and says what differs (the guard's inventory, config fields).
 */

/** A parsed Database of template shop, Running and unprotected unless `spec` says otherwise. */
export function db(
  name: string,
  spec: Partial<DatabaseSpec> = {},
  annotations: Record<string, string> = {},
): DatabaseObject {
  return {
    kind: 'Database',
    metadata: { name, labels: {}, annotations },
    spec: { template: 'shop', state: 'Running', protected: false, ...spec },
  };
}

/**
 * A ready template version on disk, as an import leaves it: its folder and its metadata (the dump itself
 * is not needed any more). `meta` overrides the placeholder fields (image, admin password, ...).
 */
export async function writeReadyVersion(
  layout: Layout,
  template: string,
  version: string,
  meta: Partial<VersionMeta> = {},
): Promise<void> {
  await mkdir(layout.versionDir(template, version), { recursive: true });
  await new TemplateVersions(layout).writeMeta(template, {
    version,
    createdAt: Date.now(),
    engine: 'mariadb',
    image: 'img',
    database: 'default',
    adminPassword: `admin-${version}`,
    trigger: { specDigest: 'd', dump: '1:1', reimportToken: '' },
    dumpSha256: 'x',
    dumpBytes: 1,
    durationSeconds: 1,
    ...meta,
  });
}

/** A deletion guard that lets any removal through at once (no grace), up to the usual mass-removal limits. */
export function testGuard(inventory: DeletionGuardOptions['inventory']): DeletionGuard {
  return new DeletionGuard({ limit: 10, max: 3, fraction: 0.5, graceMs: 0, log: silentLogger, inventory });
}

export interface ReconcilerParts {
  root: string;
  layout: Layout;
  desired: DesiredState;
  store: StatusStore;
  runtime: Runtime;
  versions: TemplateVersions;
  engine: FakeEngine;
  /** What the guard sees as existing and unwanted. */
  inventory: DeletionGuardOptions['inventory'];
  /** Config fields beside `dataDir: root`. */
  config?: Partial<ControllerConfig>;
}

/** ReconcilerDeps over the test's fakes: copy storage, a trash that keeps an hour, no metrics. */
export function reconcilerDeps(parts: ReconcilerParts): ReconcilerDeps {
  const { root, layout, desired, store, runtime, versions, engine } = parts;
  const storage = new CopyStorage(silentLogger);
  return {
    config: { ...defaultConfig(root), dataDir: root, ...parts.config },
    desired,
    store,
    layout,
    storage,
    runtime,
    versions,
    guard: testGuard(parts.inventory),
    trash: new Trash({ layout, storage, log: silentLogger, retentionSeconds: 3600, minFreePercent: 0 }),
    restores: new Map(),
    clock: new WallClock({ pauseMs: 1000 }),
    log: silentLogger,
    engineFor: () => engine,
  };
}
