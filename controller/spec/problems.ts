/** A problem with a spec file, precise enough to fix without opening anything else. */
export interface SpecProblem {
  readonly file: string;
  /** 1-based, when known. */
  readonly line?: number;
  /** `Kind/name` when the object got far enough to have one. */
  readonly key?: string;
  /** Dotted field path, e.g. `spec.ttl`. */
  readonly field?: string;
  readonly message: string;
}

/** `specs/a.yaml:12: Database/alice: spec.ttl: ...`: file first, so editors and grep can jump to it. */
export function formatProblem(problem: SpecProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`;
  const parts = [where, problem.key, problem.field, problem.message].filter(
    (p) => p !== undefined && p !== '',
  );
  return parts.join(': ');
}
