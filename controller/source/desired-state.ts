import path from 'node:path';
import type { SpecProblem } from '../spec/problems.js';
import type { Kind, ObjectKey, TemplateObject } from '../spec/types.js';
import type { DumpsFolder } from './dumps-folder.js';
import type { DesiredState, SpecFolder, SpecRecord } from './spec-folder.js';

/**
 * The desired state the reconcilers read: the spec folder, plus (seed compatibility) an implicit
 * Template for every top-level dump that no Template spec claims. Spec files always win.
 */
export class CombinedDesiredState implements DesiredState {
  constructor(
    readonly specs: SpecFolder,
    readonly dumps: DumpsFolder,
  ) {}

  get synced(): boolean {
    return this.specs.synced;
  }

  get available(): boolean {
    return this.specs.available;
  }

  get(key: ObjectKey): SpecRecord | undefined {
    const explicit = this.specs.get(key);
    if (explicit || !key.startsWith('Template/')) return explicit;
    return this.#implicit().get(key);
  }

  list(kind?: Kind): SpecRecord[] {
    const explicit = this.specs.list(kind);
    if (kind === 'Database') return explicit;
    return [...explicit, ...this.#implicit().values()];
  }

  problems(): SpecProblem[] {
    return [...this.specs.problems(), ...this.dumps.problems()];
  }

  subscribe(listener: (keys: ObjectKey[]) => void): () => void {
    const offSpecs = this.specs.subscribe(listener);
    const offDumps = this.dumps.subscribe(({ files, keys }) => {
      const changed = new Set<ObjectKey>(keys);
      const wanted = new Set(files.map((f) => path.posix.normalize(f.split(path.sep).join('/'))));
      for (const record of this.list('Template')) {
        if (wanted.has((record.object as TemplateObject).spec.source.path)) changed.add(record.key);
      }
      if (changed.size > 0) listener([...changed]);
    });
    return () => {
      offSpecs();
      offDumps();
    };
  }

  /** Implicit templates whose name and dump no spec file claims. */
  #implicit(): Map<ObjectKey, SpecRecord> {
    const claimed = new Set(
      this.specs.list('Template').map((r) => (r.object as TemplateObject).spec.source.path),
    );
    const out = new Map<ObjectKey, SpecRecord>();
    for (const record of this.dumps.records()) {
      if (this.specs.get(record.key)) continue;
      if (claimed.has((record.object as TemplateObject).spec.source.path)) continue;
      out.set(record.key, record);
    }
    return out;
  }
}
