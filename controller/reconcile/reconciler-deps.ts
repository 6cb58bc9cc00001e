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
import type { Trash } from '../trash/trash.js';
import type { WallClock } from '../util/wall-clock.js';
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
  /** Decides whether a removal may go ahead (grace, mass removals held until confirmed). */
  readonly guard: DeletionGuard;
  /** Where removals go first; restores take from it. */
  readonly trash: Trash;
  /** Restores asked for by name (`myaas restore`): the trash entry id each takes from. */
  readonly restores: Map<string, string>;
  /** Tells when the wall clock stepped: expiry waits then. */
  readonly clock: WallClock;
  readonly log: Logger;
  /** The engine module for a spec's engine name. */
  readonly engineFor: (name: EngineName) => Engine;
  readonly metrics?: Metrics;
}
