import { type Command, Option } from 'commander';
import { stringify } from 'yaml';
import type { ApiObject } from '../../api/objects.js';
import type { DatabaseStatus, TemplateStatus } from '../../objects/index.js';
import { age, table, until } from '../format.js';
import { type CommandContext, plural } from './common.js';
import { clientFor, commandLine, seedConnection } from './connect.js';

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
}

interface Event {
  object: string;
  time: string;
  type: string;
  reason: string;
  message: string;
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

/** `value` as YAML, indented under a heading. */
function indented(value: unknown): string[] {
  return stringify(value)
    .trimEnd()
    .split('\n')
    .map((l) => `  ${l}`);
}

/** The head of `describe`: what the object is, its spec, status and conditions. */
function describeObject(
  object: ApiObject,
  status: { phase?: string; message?: string; conditions?: Condition[] },
): string[] {
  return [
    `Name:     ${object.metadata.name}`,
    `Kind:     ${object.kind}`,
    `Source:   ${object.source?.file ?? '<none>'}`,
    `Phase:    ${status.phase ?? 'Pending'}`,
    ...(status.message ? [`Message:  ${status.message}`] : []),
    'Spec:',
    ...indented(object.spec),
    'Status:',
    ...indented({ ...status, conditions: undefined }),
    'Conditions:',
    ...(status.conditions?.length
      ? [
          table(
            ['  TYPE', 'STATUS', 'REASON', 'MESSAGE'],
            status.conditions.map((c) => [`  ${c.type}`, c.status, c.reason, c.message.split('\n')[0] ?? '']),
          ),
        ]
      : ['  <none>']),
  ];
}

/** The last ten events of an object, as `describe` lists them. */
function describeEvents(events: Event[]): string[] {
  return [
    'Events:',
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
  ];
}

/** `get` and `describe`: objects as tables, JSON or YAML, or one in full with its events. */
export function registerGetCommands(program: Command, { client, out }: CommandContext): void {
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
        conditions?: Condition[];
      };
      const lines = describeObject(object, status);
      const events = (await client().call<{ items: Event[] }>('GET', '/api/v1/events')).items.filter(
        (e) => e.object === `${object.kind}/${name}`,
      );
      lines.push(...describeEvents(events));
      if (object.kind === 'Database' && status.phase === 'Ready') {
        const { seed } = await seedConnection(client(), name);
        lines.push(`Connect:  ${commandLine(clientFor(seed, status))}`);
      }
      out(lines.join('\n'));
    });
}
