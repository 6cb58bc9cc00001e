import path from 'node:path';
import type {
  DeclaredSpec,
  DesiredState,
  Kind,
  ObjectKey,
  ObjectOfKind,
  TemplateObject,
} from '../objects/index.js';
import { dumpPathOf } from '../objects/index.js';
import type { SpecProblem } from '../spec/problems.js';
import type { DumpsFolder } from './dumps-folder.js';
import type { SpecFolder } from './spec-folder.js';

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
    return this.specs.synced && this.dumps.synced;
  }

  /** The specs dir's availability (the dumps dir's shows in problems and in absenceTrusted). */
  get available(): boolean {
    return this.specs.available;
  }

  /**
   * A database is absent when the specs say so; a template only when the dumps dir says so too: while
   * it is missing, unreadable or looks unmounted, any template may be an implicit one it would make.
   */
  absenceTrusted(key: ObjectKey): boolean {
    if (!this.specs.absenceTrusted(key)) return false;
    return !key.startsWith('Template/') || this.dumps.absenceTrusted;
  }

  get<K extends Kind>(key: `${K}/${string}`): DeclaredSpec<ObjectOfKind<K>> | undefined {
    const explicit = this.specs.get(key);
    if (explicit || !key.startsWith('Template/')) return explicit;
    return this.#implicit().get(key) as DeclaredSpec<ObjectOfKind<K>> | undefined;
  }

  list<K extends Kind>(kind: K): DeclaredSpec<ObjectOfKind<K>>[];
  list(): DeclaredSpec[];
  list(kind?: Kind): DeclaredSpec[] {
    const explicit = kind ? this.specs.list(kind) : this.specs.list();
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
        if (filesOf(record.object as TemplateObject).some((f) => wanted.has(f))) changed.add(record.key);
      }
      if (changed.size > 0) listener([...changed]);
    });
    return () => {
      offSpecs();
      offDumps();
    };
  }

  /**
   * Implicit templates whose name and dump no spec file claims: as its dump, or as a post-import
   * script (a masking script in the dumps dir is not a dump of its own).
   */
  #implicit(): Map<ObjectKey, DeclaredSpec> {
    const claimed = new Set(this.specs.list('Template').flatMap((r) => filesOf(r.object as TemplateObject)));
    const out = new Map<ObjectKey, DeclaredSpec>();
    for (const record of this.dumps.records()) {
      if (this.specs.get(record.key)) continue;
      if (claimed.has(dumpPathOf((record.object as TemplateObject).spec) ?? '')) continue;
      out.set(record.key, record);
    }
    return out;
  }
}

/** The files of the dumps dir a template reads: its dump and its post-import scripts. */
function filesOf(template: TemplateObject): string[] {
  const steps = template.spec.import.steps ?? [];
  const dump = dumpPathOf(template.spec);
  return [...(dump ? [dump] : []), ...steps.flatMap((s) => ('path' in s ? [s.path] : []))];
}
