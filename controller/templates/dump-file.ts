import { realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { dumpPathProblem } from '../spec/parse.js';

export interface DumpFile {
  readonly path: string;
  readonly size: number;
  readonly mtimeMs: number;
  readonly gzip: boolean;
}

export class DumpNotFoundError extends Error {}

/**
 * Finds a template's dump inside the dumps dir. Refuses paths that leave it, symlinks included:
 * the spec check catches `..` and absolute paths; this catches links that point out.
 */
export async function resolveDump(
  dumpsDir: string,
  sourcePath: string,
  field = 'spec.source.path',
): Promise<DumpFile> {
  const problem = dumpPathProblem(sourcePath);
  if (problem) throw new Error(`${field}: ${problem}`);
  const root = await realpath(dumpsDir).catch(() => {
    throw new DumpNotFoundError(`dumps dir ${dumpsDir} does not exist: create it or fix --dumps`);
  });
  const wanted = path.resolve(root, sourcePath);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch {
    throw new DumpNotFoundError(
      `${field === 'spec.source.path' ? 'dump' : 'script'} ${sourcePath} not found in ${dumpsDir}: put the file there or fix ${field}`,
    );
  }
  if (!real.startsWith(root + path.sep)) {
    throw new Error(`${field}: ${sourcePath} resolves to ${real}, outside the dumps dir ${root}: refused`);
  }
  const s = await stat(real);
  if (!s.isFile()) throw new Error(`${field}: ${sourcePath} is not a file`);
  return { path: real, size: s.size, mtimeMs: s.mtimeMs, gzip: real.endsWith('.gz') };
}

export const dumpSignature = (dump: { size: number; mtimeMs: number }) =>
  `${dump.size}:${Math.floor(dump.mtimeMs)}`;

/** A post-import step ready to run: its script found inside the dumps dir, or its inline SQL. */
export interface ResolvedStep {
  /** How errors name it: the script's path, or `steps[N] (inline SQL)`. */
  readonly name: string;
  readonly file?: DumpFile;
  readonly sql?: string;
}

/** Finds a template's post-import scripts (same rules as its dump); throws like resolveDump. */
export async function resolveSteps(
  dumpsDir: string,
  steps: readonly ({ readonly path: string } | { readonly sql: string })[],
): Promise<ResolvedStep[]> {
  const resolved: ResolvedStep[] = [];
  for (const [i, step] of steps.entries()) {
    if ('sql' in step) resolved.push({ name: `spec.import.steps[${i}] (inline SQL)`, sql: step.sql });
    else
      resolved.push({
        name: step.path,
        file: await resolveDump(dumpsDir, step.path, `spec.import.steps[${i}].path`),
      });
  }
  return resolved;
}

/** What of the steps' files an import depends on: a changed script asks for a new import. */
export const stepsSignature = (steps: readonly ResolvedStep[]) =>
  steps.map((s) => (s.file ? `+${dumpSignature(s.file)}` : '')).join('');
