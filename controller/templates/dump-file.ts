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
export async function resolveDump(dumpsDir: string, sourcePath: string): Promise<DumpFile> {
  const problem = dumpPathProblem(sourcePath);
  if (problem) throw new Error(`spec.source.path: ${problem}`);
  const root = await realpath(dumpsDir).catch(() => {
    throw new DumpNotFoundError(`dumps dir ${dumpsDir} does not exist: create it or fix --dumps`);
  });
  const wanted = path.resolve(root, sourcePath);
  let real: string;
  try {
    real = await realpath(wanted);
  } catch {
    throw new DumpNotFoundError(
      `dump ${sourcePath} not found in ${dumpsDir}: put the file there or fix spec.source.path`,
    );
  }
  if (!real.startsWith(root + path.sep)) {
    throw new Error(
      `spec.source.path: ${sourcePath} resolves to ${real}, outside the dumps dir ${root}: refused`,
    );
  }
  const s = await stat(real);
  if (!s.isFile()) throw new Error(`spec.source.path: ${sourcePath} is not a file`);
  return { path: real, size: s.size, mtimeMs: s.mtimeMs, gzip: real.endsWith('.gz') };
}

export const dumpSignature = (dump: { size: number; mtimeMs: number }) =>
  `${dump.size}:${Math.floor(dump.mtimeMs)}`;
