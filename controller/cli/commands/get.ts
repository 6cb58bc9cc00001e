import { type Command, Option } from 'commander';
import { stringify } from 'yaml';
import type { ApiObject } from '../../api/objects.js';
import { clientCommandLine } from '../../engine/client-line.js';
import type { BranchLineage, DatabaseStatus, TemplateStatus } from '../../objects/index.js';
import { age, columnWidths, progressText, table, tableLine, until } from '../format.js';
import { type CommandContext, plural } from './common.js';
import { clientFor, seedConnection } from './connect.js';

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

/**
 * The columns of `get templates`; PROGRESS shows a running import (percent, eta), POOL the warm pool's
 * ready members of the current version out of those asked for (`-`: no pool).
 */
export function templateHeaders(wide: boolean): string[] {
  return [
    'NAME',
    'PHASE',
    'VERSION',
    'LAST IMPORT',
    'PROGRESS',
    'POOL',
    'AGE',
    ...(wide ? ['ENGINE', 'SOURCE', 'MESSAGE'] : []),
  ];
}

/** One template's row. AGE counts from when the template was first seen, whatever reimports since. */
export function templateRow(o: ApiObject, wide: boolean, now = Date.now()): string[] {
  const s = (o.status ?? {}) as Partial<TemplateStatus>;
  const last = s.lastImport;
  return [
    o.metadata.name,
    s.phase ?? 'Pending',
    s.currentVersion ?? '<none>',
    last ? `${last.result ?? 'Running'} ${age(last.finishedAt ?? last.startedAt, now)} ago` : '<none>',
    progressText(s.phase === 'Importing' ? s.progress : undefined),
    poolText(s.pool),
    age(s.createdAt ?? last?.startedAt, now),
    ...(wide
      ? [String(o.spec.engine), String((o.spec.source as { path: string }).path), s.message ?? '']
      : []),
  ];
}

/** `ready/target` of a warm pool, `-` for none. */
export function poolText(pool: TemplateStatus['pool']): string {
  return pool && pool.target + pool.ready > 0 ? `${pool.ready}/${pool.target}` : '-';
}

/**
 * The columns of `get databases`. IDLE: how long it has had no client session, as its idle policy
 * counts it (`-` when no policy watches it, or it is not running); wide adds the policy.
 */
export function databaseHeaders(wide: boolean): string[] {
  return [
    'NAME',
    'TEMPLATE',
    'PHASE',
    'PORT',
    'EXPIRES',
    'IDLE',
    'AGE',
    ...(wide ? ['IDLE POLICY', 'VERSION', 'USER', 'DATABASE', 'MESSAGE'] : []),
  ];
}

/** IDLE: the idle time counted toward the policy while the watch looks at a running database. */
export function idleText(s: Partial<DatabaseStatus>, now = Date.now()): string {
  if (s.phase !== 'Ready' || !s.idle) return '-';
  return age(s.idle.countedFrom, now);
}

/** The idle policy in force as `30m Stop` (`(template)` when it is the template's default), or `-`. */
export function idlePolicyText(s: Partial<DatabaseStatus>): string {
  if (!s.idle) return '-';
  return `${s.idle.after} ${s.idle.action}${s.idle.from === 'Template' ? ' (template)' : ''}`;
}

export function databaseRow(o: ApiObject, wide: boolean, now = Date.now()): string[] {
  const s = (o.status ?? {}) as Partial<DatabaseStatus>;
  return [
    o.metadata.name,
    o.spec.source ? `${(o.spec.source as { database: string }).database} (branch)` : String(o.spec.template),
    s.phase ?? 'Pending',
    s.connection ? String(s.connection.port) : '<none>',
    until(s.expiresAt, now),
    idleText(s, now),
    age(s.createdAt, now),
    ...(wide
      ? [
          idlePolicyText(s),
          s.templateVersion ?? '<none>',
          s.connection?.user ?? '',
          s.connection?.database ?? '',
          s.message ?? '',
        ]
      : []),
  ];
}

const headersOf = (p: 'templates' | 'databases', wide: boolean) =>
  p === 'templates' ? templateHeaders(wide) : databaseHeaders(wide);
const rowOf = (p: 'templates' | 'databases', o: ApiObject, wide: boolean) =>
  p === 'templates' ? templateRow(o, wide) : databaseRow(o, wide);

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
  status: {
    phase?: string;
    message?: string;
    conditions?: Condition[];
    branchedFrom?: BranchLineage;
    pool?: TemplateStatus['pool'];
  } & Partial<Pick<DatabaseStatus, 'idle' | 'lastActivity'>>,
): string[] {
  const branch = status.branchedFrom;
  return [
    `Name:     ${object.metadata.name}`,
    `Kind:     ${object.kind}`,
    `Source:   ${object.source?.file ?? '<none>'}`,
    `Phase:    ${status.phase ?? 'Pending'}`,
    ...(branch
      ? [
          `Branched: from database ${branch.database} at ${branch.at}, on template ${branch.template}/${branch.templateVersion} (${branch.method}; writes held ${branch.lockMs} ms, server paused ${branch.pausedMs} ms)`,
        ]
      : []),
    ...(status.pool
      ? [`Pool:     ${status.pool.ready} of ${status.pool.target} ready (warm pool of the current version)`]
      : []),
    ...(status.message ? [`Message:  ${status.message}`] : []),
    ...(object.kind === 'Database' ? describeIdle(object, status as Partial<DatabaseStatus>) : []),
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

/** `describe database`: the idle policy in force and the last activity. */
function describeIdle(object: ApiObject, status: Partial<DatabaseStatus>, now = Date.now()): string[] {
  const own = object.spec.idle as { after?: string; action: string } | undefined;
  const policy = status.idle
    ? `${status.idle.after} without a client session: ${status.idle.action} (${status.idle.from === 'Template' ? "the template's databaseDefaults.idle" : 'spec.idle'})`
    : own?.action === 'Keep'
      ? 'Keep (spec.idle): never stopped nor deleted for idleness'
      : own
        ? `${own.after} without a client session: ${own.action} (spec.idle)`
        : "none (Keep): set spec.idle, or the template's databaseDefaults.idle";
  return [
    `Idle:     ${policy}`,
    `Activity: ${status.lastActivity ? `last client session ${age(status.lastActivity, now)} ago (${status.lastActivity})` : '<not watched>'}${status.idle && status.phase === 'Ready' ? `; idle for ${age(status.idle.countedFrom, now)} as the policy counts it` : ''}`,
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

/** Lists objects: the named one, or all of the kind. */
async function fetchItems(context: CommandContext, p: 'templates' | 'databases', name?: string) {
  const client = context.client();
  return name
    ? [await client.call<ApiObject>('GET', `/api/v1/${p}/${encodeURIComponent(name)}`)]
    : (await client.call<{ items: ApiObject[] }>('GET', `/api/v1/${p}`)).items;
}

/**
 * `get -w`: the list, then every second the objects whose spec or status changed since (a row each, or
 * the object in JSON/YAML), and `Deleted` rows for those gone; until SIGINT or SIGTERM.
 */
async function watch(
  context: CommandContext,
  p: 'templates' | 'databases',
  name: string | undefined,
  output: string | undefined,
  intervalMs = 1000,
): Promise<void> {
  const wide = output === 'wide';
  const asTable = output !== 'json' && output !== 'yaml';
  const seen = new Map<string, string>();
  let widths: number[] = [];
  let stopped = false;
  let wake: () => void = () => undefined;
  const stop = () => {
    stopped = true;
    wake();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    for (let first = true; !stopped; first = false) {
      const items = await fetchItems(context, p, name).catch((error: unknown) => {
        // One object: gone is a change to show; anything else ends the watch.
        if (name && /not found/.test((error as Error).message)) return [];
        throw error;
      });
      const changed = items.filter((o) => seen.get(o.metadata.name) !== signature(o));
      const gone = [...seen.keys()].filter((n) => !items.some((o) => o.metadata.name === n));
      for (const o of items) seen.set(o.metadata.name, signature(o));
      for (const n of gone) seen.delete(n);
      if (asTable) {
        const rows = [
          ...changed.map((o) => rowOf(p, o, wide)),
          ...gone.map((n) => [n, ...(p === 'databases' ? ['', 'Deleted'] : ['Deleted'])]),
        ];
        widths = columnWidths(headersOf(p, wide), rows, widths);
        const lines = rows.map((r) => tableLine(r, widths));
        if (first) lines.unshift(tableLine(headersOf(p, wide), widths));
        if (lines.length > 0) context.out(lines.join('\n'));
      } else {
        for (const o of changed) context.out(render(o, output)!);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalMs);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
}

/** What a watch compares: everything the API says of an object. */
function signature(o: ApiObject): string {
  return JSON.stringify([o.metadata, o.spec, o.status]);
}

function registerGet(program: Command, context: CommandContext): void {
  const output = new Option('-o, --output <format>', 'output format').choices(['wide', 'json', 'yaml']);
  program
    .command('get')
    .description('list templates or databases (kubectl get)')
    .argument('<kind>', 'templates | databases')
    .argument('[name]', 'one object')
    .addOption(output)
    .option('-w, --watch', 'then print objects as they change (polls every second) until Ctrl-C')
    .addHelpText(
      'after',
      '\nExample:\n  myaas get databases -w\n  myaas get templates             # PROGRESS shows a running import\n  myaas get db mine -o yaml | myaas apply -f -',
    )
    .action(async (kind: string, name: string | undefined, options: { output?: string; watch?: boolean }) => {
      const p = plural(kind);
      if (options.watch) return watch(context, p, name, options.output);
      const items = await fetchItems(context, p, name);
      const rendered = render(name ? items[0] : { items }, options.output);
      if (rendered !== undefined) return context.out(rendered);
      if (items.length === 0) return context.out(`No ${p} found.`);
      const wide = options.output === 'wide';
      context.out(
        table(
          headersOf(p, wide),
          items.map((o) => rowOf(p, o, wide)),
        ),
      );
    });
}

/** A problem as `GET /api/v1/problems` lists it. */
interface Problem {
  file: string;
  key?: string;
  text: string;
}

/** The problems that concern an object: its own, and its file's that name no object. */
export function problemsOf(object: ApiObject, problems: Problem[]): string[] {
  const key = `${object.kind}/${object.metadata.name}`;
  return problems
    .filter((p) => p.key === key || (!p.key && object.source && p.file === object.source.file))
    .map((p) => p.text);
}

function registerDescribe(program: Command, { client, out }: CommandContext): void {
  program
    .command('describe')
    .description('show one object: spec, status, conditions, problems, recent events (kubectl describe)')
    .argument('<kind>', 'template | database')
    .argument('<name>')
    .addHelpText('after', '\nExample:\n  myaas describe database mine')
    .action(async (kind: string, name: string) => {
      const p = plural(kind);
      const object = await client().call<ApiObject>('GET', `/api/v1/${p}/${encodeURIComponent(name)}`);
      const status = (object.status ?? {}) as {
        phase?: string;
        message?: string;
        conditions?: Condition[];
        branchedFrom?: BranchLineage;
      };
      const lines = describeObject(object, status);
      const problems = problemsOf(
        object,
        (await client().call<{ items: Problem[] }>('GET', '/api/v1/problems')).items,
      );
      if (problems.length > 0) lines.push('Problems:', ...problems.map((t) => `  ${t}`));
      const events = (await client().call<{ items: Event[] }>('GET', '/api/v1/events')).items.filter(
        (e) => e.object === `${object.kind}/${name}`,
      );
      lines.push(...describeEvents(events));
      if (object.kind === 'Database' && status.phase === 'Ready') {
        const { seed } = await seedConnection(client(), name);
        lines.push(`Connect:  ${clientCommandLine(clientFor(seed, status))}`);
      }
      out(lines.join('\n'));
    });
}

/** `get` and `describe`: objects as tables, JSON or YAML, or one in full with its events. */
export function registerGetCommands(program: Command, context: CommandContext): void {
  registerGet(program, context);
  registerDescribe(program, context);
}
