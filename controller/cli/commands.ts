import { spawnSync } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { type Command, Option } from 'commander';
import { parseAllDocuments, stringify } from 'yaml';
import type { ApiObject } from '../api/objects.js';
import { engineFor } from '../engine/engines.js';
import type { DatabaseStatus, EngineName, TemplateStatus } from '../objects/index.js';
import { listSpecFiles } from '../source/spec-files.js';
import { parseSpecFile } from '../spec/parse.js';
import { formatProblem } from '../spec/problems.js';
import { loadSchemas } from '../spec/schema.js';
import { ApiClient, CliError } from './api-client.js';
import { age, table, until } from './format.js';

type Out = (text: string) => void;

const KINDS: Record<string, 'templates' | 'databases'> = {
  template: 'templates',
  templates: 'templates',
  tpl: 'templates',
  database: 'databases',
  databases: 'databases',
  db: 'databases',
};

function plural(kind: string): 'templates' | 'databases' {
  const p = KINDS[kind.toLowerCase()];
  if (!p) throw new CliError(`unknown kind "${kind}": use templates or databases`);
  return p;
}

interface SeedDatabase {
  database: string;
  host: string;
  port: string;
  user: string;
  password: string;
}

function templateRows(items: ApiObject[], wide: boolean): string {
  const headers = [
    'NAME',
    'PHASE',
    'VERSION',
    'LAST IMPORT',
    'AGE',
    ...(wide ? ['ENGINE', 'SOURCE', 'MESSAGE'] : []),
  ];
  const rows = items.map((o) => {
    const s = (o.status ?? {}) as Partial<TemplateStatus>;
    const last = s.lastImport;
    return [
      o.metadata.name,
      s.phase ?? 'Pending',
      s.currentVersion ?? '<none>',
      last ? `${last.result ?? 'Running'} ${age(last.finishedAt ?? last.startedAt)} ago` : '<none>',
      age(s.lastImport?.startedAt),
      ...(wide
        ? [String(o.spec.engine), String((o.spec.source as { path: string }).path), s.message ?? '']
        : []),
    ];
  });
  return table(headers, rows);
}

function databaseRows(items: ApiObject[], wide: boolean): string {
  const headers = [
    'NAME',
    'TEMPLATE',
    'PHASE',
    'PORT',
    'EXPIRES',
    'AGE',
    ...(wide ? ['VERSION', 'USER', 'DATABASE', 'MESSAGE'] : []),
  ];
  const rows = items.map((o) => {
    const s = (o.status ?? {}) as Partial<DatabaseStatus>;
    return [
      o.metadata.name,
      String(o.spec.template),
      s.phase ?? 'Pending',
      s.connection ? String(s.connection.port) : '<none>',
      until(s.expiresAt),
      age(s.createdAt),
      ...(wide
        ? [
            s.templateVersion ?? '<none>',
            s.connection?.user ?? '',
            s.connection?.database ?? '',
            s.message ?? '',
          ]
        : []),
    ];
  });
  return table(headers, rows);
}

function render(value: unknown, output: string | undefined): string | undefined {
  if (output === 'json') return JSON.stringify(value, null, 2);
  if (output === 'yaml') return stringify(value).trimEnd();
  return undefined;
}

async function seedConnection(
  client: ApiClient,
  name: string,
): Promise<{ object: ApiObject; seed: SeedDatabase }> {
  const object = await client.call<ApiObject>('GET', `/api/v1/databases/${encodeURIComponent(name)}`);
  const seed = await client.call<SeedDatabase>(
    'GET',
    `/db/${encodeURIComponent(String(object.spec.template))}/${encodeURIComponent(name)}`,
  );
  return { object, seed };
}

/** The engine's client, logged in to the database (the password in env, never in argv). */
function clientFor(seed: SeedDatabase, status: unknown) {
  const engine = engineFor((status as { engine?: EngineName } | undefined)?.engine ?? 'mariadb');
  return engine.client.command({
    host: seed.host,
    port: Number(seed.port),
    user: seed.user,
    password: seed.password,
    database: seed.database,
  });
}

/** The client command as a shell line: `MYSQL_PWD=... mariadb --host=...` (secrets are URL-safe). */
function commandLine(c: ReturnType<typeof clientFor>): string {
  const env = Object.entries(c.env).map(([k, v]) => `${k}=${v}`);
  return [...env, c.command, ...c.args].join(' ');
}

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

export function registerClientCommands(
  program: Command,
  out: Out = (t) => process.stdout.write(`${t}\n`),
): void {
  const client = () => ApiClient.fromEnv();
  const output = new Option('-o, --output <format>', 'output format').choices(['wide', 'json', 'yaml']);

  program
    .command('get')
    .description('list templates or databases (kubectl get)')
    .argument('<kind>', 'templates | databases')
    .argument('[name]', 'one object')
    .addOption(output)
    .action(async (kind: string, name: string | undefined, options: { output?: string }) => {
      const p = plural(kind);
      const items = name
        ? [await client().call<ApiObject>('GET', `/api/v1/${p}/${encodeURIComponent(name)}`)]
        : (await client().call<{ items: ApiObject[] }>('GET', `/api/v1/${p}`)).items;
      const rendered = render(name ? items[0] : { items }, options.output);
      if (rendered !== undefined) return out(rendered);
      if (items.length === 0) return out(`No ${p} found.`);
      out(
        p === 'templates'
          ? templateRows(items, options.output === 'wide')
          : databaseRows(items, options.output === 'wide'),
      );
    });

  program
    .command('describe')
    .description('show one object: spec, status, conditions, recent events (kubectl describe)')
    .argument('<kind>', 'template | database')
    .argument('<name>')
    .action(async (kind: string, name: string) => {
      const p = plural(kind);
      const object = await client().call<ApiObject>('GET', `/api/v1/${p}/${encodeURIComponent(name)}`);
      const status = (object.status ?? {}) as {
        phase?: string;
        message?: string;
        conditions?: { type: string; status: string; reason: string; message: string }[];
      };
      const lines = [
        `Name:     ${object.metadata.name}`,
        `Kind:     ${object.kind}`,
        `Source:   ${object.source?.file ?? '<none>'}`,
        `Phase:    ${status.phase ?? 'Pending'}`,
        ...(status.message ? [`Message:  ${status.message}`] : []),
        'Spec:',
        ...stringify(object.spec)
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`),
        'Status:',
        ...stringify({ ...status, conditions: undefined })
          .trimEnd()
          .split('\n')
          .map((l) => `  ${l}`),
        'Conditions:',
        ...(status.conditions?.length
          ? [
              table(
                ['  TYPE', 'STATUS', 'REASON', 'MESSAGE'],
                status.conditions.map((c) => [
                  `  ${c.type}`,
                  c.status,
                  c.reason,
                  c.message.split('\n')[0] ?? '',
                ]),
              ),
            ]
          : ['  <none>']),
      ];
      const events = (
        await client().call<{
          items: { object: string; time: string; type: string; reason: string; message: string }[];
        }>('GET', '/api/v1/events')
      ).items.filter((e) => e.object === `${object.kind}/${name}`);
      lines.push('Events:');
      lines.push(
        ...(events.length
          ? [
              table(
                ['  TYPE', 'REASON', 'AGE', 'MESSAGE'],
                events
                  .slice(-10)
                  .map((e) => [`  ${e.type}`, e.reason, age(e.time), e.message.split('\n')[0] ?? '']),
              ),
            ]
          : ['  <none>']),
      );
      if (object.kind === 'Database' && status.phase === 'Ready') {
        const { seed } = await seedConnection(client(), name);
        lines.push(`Connect:  ${commandLine(clientFor(seed, status))}`);
      }
      out(lines.join('\n'));
    });

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

  program
    .command('reset')
    .description("give a database a fresh copy of its template's current data (same name, port, credentials)")
    .argument('<name>', 'database')
    .action(async (name: string) => {
      await client().call('POST', `/api/v1/databases/${encodeURIComponent(name)}/reset`);
      out(`database/${name} reset requested`);
    });

  program
    .command('reimport')
    .description('import a template again from its dump')
    .argument('<name>', 'template')
    .action(async (name: string) => {
      await client().call('POST', `/api/v1/templates/${encodeURIComponent(name)}/reimport`);
      out(`template/${name} reimport requested`);
    });

  program
    .command('confirm-deletions')
    .description('let a held mass removal go ahead')
    .action(async () => {
      const result = await client().call<{ databases: string[]; templates: string[] }>(
        'POST',
        '/api/v1/deletions/confirm',
      );
      out(
        `confirmed removal of ${result.databases.length} database(s) and ${result.templates.length} template(s)`,
      );
    });

  program
    .command('connect')
    .description(
      "open the engine's client on a database (mariadb, mysql or psql), or print the command / a DSN",
    )
    .argument('<name>', 'database')
    .option('--print', 'print the command instead of running it')
    .option('--dsn', 'print a DSN (mysql:// or postgresql://)')
    .action(async (name: string, options: { print?: boolean; dsn?: boolean }) => {
      const { object, seed } = await seedConnection(client(), name);
      if ((object.status as { phase?: string } | undefined)?.phase !== 'Ready') {
        throw new CliError(
          `database ${name} is not ready (${(object.status as { phase?: string } | undefined)?.phase ?? 'Pending'})`,
        );
      }
      const engine = engineFor((object.status as { engine?: EngineName } | undefined)?.engine ?? 'mariadb');
      if (options.dsn) return out(engine.client.dsn({ ...seed, port: Number(seed.port) }));
      const command = clientFor(seed, object.status);
      if (options.print) return out(commandLine(command));
      const result = spawnSync(command.command, command.args, {
        stdio: 'inherit',
        env: { ...process.env, ...command.env },
      });
      if (result.error)
        throw new CliError(
          `cannot run ${command.command} (${result.error.message}): install the ${engine.name} client, or use --print`,
        );
      process.exitCode = result.status ?? 1;
    });
}
