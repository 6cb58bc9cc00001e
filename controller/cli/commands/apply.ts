import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { parseAllDocuments, stringify } from 'yaml';
import { type ApiObject, specToCrd } from '../../api/objects.js';
import { OWNER_ANNOTATION, type SpecObject } from '../../objects/index.js';
import { listSpecFiles } from '../../source/spec-files.js';
import { parseSpecFile } from '../../spec/parse.js';
import { formatProblem } from '../../spec/problems.js';
import { loadSchemas } from '../../spec/schema.js';
import { type ApiClient, CliError } from '../api-client.js';
import { printValidateReport, validatePaths } from '../validate.js';
import { type CommandContext, plural } from './common.js';

/** An object to apply, as sent, and as the controller reads it (to tell whether it changes anything). */
interface ToApply {
  readonly object: ApiObject;
  readonly parsed: SpecObject;
}

/** What `get -o yaml|json` adds and `apply` ignores, as kubectl does: status, and where the spec came from. */
function withoutServerFields(doc: Record<string, unknown>): Record<string, unknown> {
  const { status: _status, source: _source, ...rest } = doc;
  return rest;
}

/** One file's (or stdin's) documents: objects, or lists of them (`get databases -o yaml`). */
function documentsOf(text: string): { docs: Record<string, unknown>[]; rewritten: boolean } {
  const docs: Record<string, unknown>[] = [];
  let rewritten = false;
  for (const doc of parseAllDocuments(text)) {
    const value = doc.toJS() as Record<string, unknown> | null;
    if (!value || typeof value !== 'object') continue;
    const list = Array.isArray(value.items) && value.kind === undefined;
    if (list) rewritten = true;
    const items = list ? (value.items as unknown[]) : [value];
    for (const item of items as Record<string, unknown>[]) {
      if ('status' in item || 'source' in item) rewritten = true;
      docs.push(withoutServerFields(item));
    }
  }
  return { docs, rewritten };
}

/** Reads spec files and folders (`-`: stdin) into objects, refusing everything when any has a problem. */
async function readObjects(paths: string[]): Promise<ToApply[]> {
  const schemas = loadSchemas();
  const problems: string[] = [];
  const objects: ToApply[] = [];
  for (const p of paths) {
    const files =
      p === '-'
        ? ['-']
        : (await stat(p)).isDirectory()
          ? (await listSpecFiles(p)).map((f) => path.join(p, f))
          : [p];
    for (const file of files) {
      const bytes = file === '-' ? await readStdin() : await readFile(file);
      const { docs, rewritten } = documentsOf(bytes.toString('utf8'));
      // Validated as written (exact lines), unless status or lists had to be taken out first.
      const checked = rewritten ? Buffer.from(docs.map((d) => stringify(d)).join('---\n')) : bytes;
      const name = file === '-' ? 'stdin' : file;
      const result = parseSpecFile(checked, rewritten ? `${name} (status ignored)` : name, schemas);
      problems.push(...result.problems.map(formatProblem));
      // Sent as written (the API validates again): the parsed form has internal field names.
      if (result.problems.length > 0) continue;
      if (result.objects.length !== docs.length)
        throw new CliError(`${name}: ${docs.length} document(s) but ${result.objects.length} object(s) read`);
      docs.forEach((doc, i) =>
        objects.push({ object: doc as unknown as ApiObject, parsed: result.objects[i]!.object }),
      );
    }
  }
  if (problems.length > 0) throw new CliError(`${problems.join('\n')}\nnothing applied`);
  return objects;
}

async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Sorted entries of a map, the owner annotation left out when `withOwner` is false. */
function sortedMap(map: Readonly<Record<string, string>>, withOwner: boolean): [string, string][] {
  return Object.entries(map)
    .filter(([k]) => withOwner || k !== OWNER_ANNOTATION)
    .sort(([a], [b]) => a.localeCompare(b));
}

/**
 * Whether applying `next` over `current` changes nothing the controller acts on: labels, annotations
 * and spec, compared as the controller reads them (`ttl: 3600` is `ttl: 1h`). The owner annotation,
 * which the API sets, counts only when the applied object names one.
 */
export function sameObject(current: SpecObject, next: SpecObject): boolean {
  const withOwner = OWNER_ANNOTATION in next.metadata.annotations;
  const view = (o: SpecObject) =>
    JSON.stringify([
      sortedMap(o.metadata.labels, true),
      sortedMap(o.metadata.annotations, withOwner),
      specToCrd(o),
    ]);
  return view(current) === view(next);
}

/** The object as the controller has it now, parsed, or undefined when there is none. */
async function currentObject(client: ApiClient, kind: string, name: string): Promise<SpecObject | undefined> {
  const { status, body } = await client.request<ApiObject>(
    'GET',
    `/api/v1/${plural(kind)}/${encodeURIComponent(name)}`,
  );
  if (status !== 200) return undefined;
  const parsed = parseSpecFile(
    Buffer.from(stringify(withoutServerFields(body as unknown as Record<string, unknown>))),
    'current',
    loadSchemas(),
  );
  return parsed.objects[0]?.object;
}

/** `validate`: spec files checked here, no controller needed. */
export function registerValidateCommand(program: Command, { out }: CommandContext): void {
  program
    .command('validate')
    .description('check spec files and folders as the controller would; exit 1 on any problem')
    .argument('<paths...>', 'files or folders')
    .addHelpText('after', '\nExample:\n  myaas validate specs/')
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
    .requiredOption('-f, --filename <paths...>', 'files or folders; - reads stdin')
    .addHelpText(
      'after',
      '\nExample:\n  myaas apply -f specs/\n  myaas get db mine -o yaml | sed s/8h/1d/ | myaas apply -f -   # status is ignored',
    )
    .action(async (options: { filename: string[] }) => {
      const objects = await readObjects(options.filename);
      for (const { object, parsed } of objects) {
        const p = plural(parsed.kind);
        const name = parsed.metadata.name;
        const current = await currentObject(client(), parsed.kind, name);
        const what = `${parsed.kind.toLowerCase()}/${name}`;
        // Not written again: a rewrite of a template's file would make it import again.
        if (current && sameObject(current, parsed)) {
          out(`${what} unchanged`);
          continue;
        }
        await client().call('PUT', `/api/v1/${p}/${encodeURIComponent(name)}`, object);
        out(`${what} ${current ? 'configured' : 'created'}`);
      }
    });

  program
    .command('delete')
    .description('delete a template or database made through the API or CLI (into the trash)')
    .argument('<kind>', 'template | database')
    .argument('<name>')
    .addHelpText(
      'after',
      '\nExample:\n  myaas delete database mine\n  myaas restore mine     # changed your mind',
    )
    .action(async (kind: string, name: string) => {
      const p = plural(kind);
      await client().call('DELETE', `/api/v1/${p}/${encodeURIComponent(name)}`);
      out(`${p.slice(0, -1)}/${name} deleted`);
    });
}
