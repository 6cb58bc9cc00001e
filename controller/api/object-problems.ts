import type { DatabaseObject } from '../objects/index.js';
import type { RunningController } from '../run.js';
import type { SpecProblem } from '../spec/problems.js';

/**
 * Problems of valid objects, beside those of spec files: a database waiting on a template that does not
 * exist (status says TemplateNotFound), and databases fixing the same port (only one of them can start).
 */
export function objectProblems(running: Pick<RunningController, 'desired' | 'store'>): SpecProblem[] {
  const problems: SpecProblem[] = [];
  const byPort = new Map<number, string>();
  const databases = running.desired.list('Database').sort((a, b) => a.key.localeCompare(b.key));
  for (const record of databases) {
    const { spec } = record.object as DatabaseObject;
    const at = { file: record.file, line: record.line, key: record.key };
    const ready = running.store.get(record.key)?.status.conditions.find((c) => c.type === 'Ready');
    if (ready?.reason === 'TemplateNotFound')
      problems.push({ ...at, field: 'spec.template', message: ready.message });
    if (spec.port === undefined) continue;
    const first = byPort.get(spec.port);
    if (first)
      problems.push({
        ...at,
        field: 'spec.port',
        message: `port ${spec.port} is also fixed by ${first}; give each database its own port, or none`,
      });
    else byPort.set(spec.port, `${record.key} (${record.file})`);
  }
  return problems;
}
