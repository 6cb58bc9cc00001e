import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { parseAllDocuments } from 'yaml';
import type { ApiObject } from '../../api/objects.js';
import { listSpecFiles } from '../../source/spec-files.js';
import { parseSpecFile } from '../../spec/parse.js';
import { formatProblem } from '../../spec/problems.js';
import { loadSchemas } from '../../spec/schema.js';
import { CliError } from '../api-client.js';
import { printValidateReport, validatePaths } from '../validate.js';
import { type CommandContext, plural } from './common.js';

/** Reads spec files and folders into objects, refusing everything when any has a problem. */
async function readObjects(paths: string[]): Promise<ApiObject[]> {
  const schemas = loadSchemas();
  const problems: string[] = [];
  const objects: ApiObject[] = [];
  for (const p of paths) {
    const files = (await stat(p)).isDirectory() ? (await listSpecFiles(p)).map((f) => path.join(p, f)) : [p];
    for (const file of files) {
      const bytes = await readFile(file);
      const result = parseSpecFile(bytes, file, schemas);
      problems.push(...result.problems.map(formatProblem));
      // Sent as written (the API validates again): the parsed form has internal field names.
      for (const doc of parseAllDocuments(bytes.toString('utf8'))) {
        const value = doc.toJS() as ApiObject | null;
        if (value && typeof value === 'object') objects.push(value);
      }
    }
  }
  if (problems.length > 0) throw new CliError(`${problems.join('\n')}\nnothing applied`);
  return objects;
}

/** `validate`: spec files checked here, no controller needed. */
export function registerValidateCommand(program: Command, { out }: CommandContext): void {
  program
    .command('validate')
    .description('check spec files and folders as the controller would; exit 1 on any problem')
    .argument('<paths...>', 'files or folders')
    .action(async (paths: string[]) => {
      const report = await validatePaths(paths, loadSchemas());
      process.exitCode = printValidateReport(report, out);
    });
}

/** `apply` and `delete`: spec files written into (or removed from) the controller's specs dir. */
export function registerApplyCommands(program: Command, { client, out }: CommandContext): void {
  program
    .command('apply')
    .description(
      'validate spec files, then write them into the specs dir through the controller (kubectl apply)',
    )
    .requiredOption('-f, --filename <paths...>', 'files or folders')
    .action(async (options: { filename: string[] }) => {
      const objects = await readObjects(options.filename);
      for (const object of objects) {
        const p = plural(object.kind);
        const { status } = await client().request(
          'GET',
          `/api/v1/${p}/${encodeURIComponent(object.metadata.name)}`,
        );
        await client().call('PUT', `/api/v1/${p}/${encodeURIComponent(object.metadata.name)}`, object);
        out(
          `${object.kind.toLowerCase()}/${object.metadata.name} ${status === 404 ? 'created' : 'configured'}`,
        );
      }
    });

  program
    .command('delete')
    .description('delete a template or database made through the API or CLI')
    .argument('<kind>', 'template | database')
    .argument('<name>')
    .action(async (kind: string, name: string) => {
      const p = plural(kind);
      await client().call('DELETE', `/api/v1/${p}/${encodeURIComponent(name)}`);
      out(`${p.slice(0, -1)}/${name} deleted`);
    });
}
