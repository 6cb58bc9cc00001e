import type { ControllerConfig } from '../config.js';
import type { Engine } from '../engine/engine.js';
import type { Layout } from '../layout.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import type { DesiredState, EngineName } from '../objects/index.js';
import type { Runtime } from '../runtime/runtime.js';
import type { StatusStore } from '../state/status-store.js';
import type { Storage } from '../storage/storage.js';
import type { TemplateVersions } from '../templates/template-versions.js';
import type { DeletionGuard } from './deletion-guard.js';

/** What every reconciler is made of: the desired state, the status store and the driver interfaces. */
export interface ReconcilerDeps {
  readonly config: ControllerConfig;
  readonly desired: DesiredState;
  readonly store: StatusStore;
  readonly layout: Layout;
  readonly storage: Storage;
  readonly runtime: Runtime;
  readonly versions: TemplateVersions;
  /** Holds removals when too many are wanted at once. */
  readonly guard: DeletionGuard;
  readonly log: Logger;
  /** The engine module for a spec's engine name. */
  readonly engineFor: (name: EngineName) => Engine;
  readonly metrics?: Metrics;
}
