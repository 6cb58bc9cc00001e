import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { keyOf } from '../objects/index.js';
import { listSpecFiles } from '../source/spec-files.js';
import { parseSpecFile } from '../spec/parse.js';
import { type SpecProblem, formatProblem } from '../spec/problems.js';
import type { SchemaSet } from '../spec/schema.js';

export interface ValidateReport {
  readonly files: number;
  readonly objects: number;
  readonly problems: SpecProblem[];
}

/** Validates files and folders of specs as the controller would, conflicts across files included. */
export async function validatePaths(paths: string[], schemas: SchemaSet): Promise<ValidateReport> {
  const problems: SpecProblem[] = [];
  const files: string[] = [];
  for (const p of paths) {
    try {
      const s = await stat(p);
      if (s.isDirectory()) files.push(...(await listSpecFiles(p)).map((f) => path.join(p, f)));
      else files.push(p);
    } catch (error) {
      problems.push({
        file: p,
        message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      });
    }
  }
  const seen = new Map<string, string>();
  const ports = new Map<number, string>();
  let objects = 0;
  for (const file of files) {
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (error) {
      problems.push({
        file,
        message: `cannot read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      });
      continue;
    }
    const result = parseSpecFile(bytes, file, schemas);
    problems.push(...result.problems);
    for (const parsed of result.objects) {
      const key = keyOf(parsed.object);
      const first = seen.get(key);
      if (first) {
        problems.push({
          file,
          line: parsed.line,
          key,
          message: `${key} is also declared in ${first}; remove one`,
        });
      } else {
        seen.set(key, file);
        objects++;
      }
      // Two databases on one fixed port: the second could never start.
      const port = parsed.object.kind === 'Database' ? parsed.object.spec.port : undefined;
      if (port === undefined || first) continue;
      const holder = ports.get(port);
      if (holder)
        problems.push({
          file,
          line: parsed.line,
          key,
          field: 'spec.port',
          message: `port ${port} is also fixed by ${holder}; give each database its own port, or none`,
        });
      else ports.set(port, `${key} (${file})`);
    }
  }
  return { files: files.length, objects, problems };
}

export function printValidateReport(report: ValidateReport, out: (line: string) => void): number {
  for (const problem of report.problems) out(formatProblem(problem));
  if (report.problems.length > 0) {
    out(`${report.problems.length} problem(s) in ${report.files} file(s)`);
    return 1;
  }
  out(`${report.objects} object(s) valid in ${report.files} file(s)`);
  return 0;
}
