import { type Command, InvalidArgumentError, Option } from 'commander';
import type { ApiObject } from '../../api/objects.js';
import { IDLE_FLAG_HELP, parseIdleFlag } from '../../idle/idle-policy.js';
import { DURATION_HELP, parseDuration } from '../../spec/duration.js';
import { CliError } from '../api-client.js';
import { until } from '../format.js';
import { type CommandContext, getDatabase, isManaged, phaseOf, waitForDatabase, writable } from './common.js';

/** A duration argument: seconds, or 30s, 15m, 8h, 7d. */
export function durationArg(value: string): number {
  const seconds = parseDuration(value);
  if (seconds === undefined) throw new InvalidArgumentError(DURATION_HELP);
  return seconds;
}

/** `--idle 30m[:stop|delete|keep]`: a spec's idle mapping. */
function idleArg(value: string): { after?: string; action: string } {
  const idle = parseIdleFlag(value);
  if (!idle) throw new InvalidArgumentError(IDLE_FLAG_HELP);
  return idle;
}

function portArg(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1024 || port > 65535)
    throw new InvalidArgumentError('a port from 1024 to 65535');
  return port;
}

const timeoutOption = () =>
  new Option('--timeout <duration>', 'how long --wait waits').argParser(durationArg).default(300, '5m');

/**
 * The new expiry of `extend NAME DURATION`: now + DURATION, never earlier than the current one.
 * Returns undefined when the current expiry is already later (nothing to change).
 */
export function extendedExpiry(
  currentExpiry: string | undefined,
  seconds: number,
  now = Date.now(),
): Date | undefined {
  const wanted = new Date(Math.ceil((now + seconds * 1000) / 1000) * 1000);
  if (currentExpiry && Date.parse(currentExpiry) >= wanted.getTime()) return undefined;
  return wanted;
}

/** The spec of a database with `change` applied, written back (API-managed ones only). */
async function changeSpec(
  { client }: CommandContext,
  object: ApiObject,
  change: (spec: Record<string, unknown>) => void,
  how: string,
): Promise<void> {
  const name = object.metadata.name;
  if (!isManaged(object))
    throw new CliError(
      `database ${name} is declared in ${object.source?.file ?? 'a spec file'}: ${how} there (the controller follows the file)`,
    );
  const body = writable(object);
  const spec = { ...(body.spec as Record<string, unknown>) };
  change(spec);
  await client().call('PUT', `/api/v1/databases/${encodeURIComponent(name)}`, { ...body, spec });
}

function registerCreate(program: Command, context: CommandContext): void {
  program
    .command('create')
    .description(
      'create a database from a template, or a branch of another database (kubectl create; fails when the name exists)',
    )
    .argument('<kind>', 'database')
    .argument('<name>', 'a DNS label: lower-case letters, digits and -')
    .option('-t, --template <template>', 'template to clone')
    .option('--from <database>', 'branch: copy this database as it is now (it keeps running)')
    .option(
      '--ttl <duration>',
      `lifetime from now: ${DURATION_HELP} (default: your quota's defaultTtl, else none: it lives until deleted)`,
      durationArg,
    )
    .option('--port <port>', 'fixed host port (default: any free port)', portArg)
    .option(
      '--idle <after[:action]>',
      `stop (or delete) it after this long without a client session: ${IDLE_FLAG_HELP} (default: the template's databaseDefaults.idle, else never)`,
      idleArg,
    )
    .option('--wait', 'wait until it accepts connections')
    .addOption(timeoutOption())
    .addHelpText(
      'after',
      '\nExample:\n  myaas create database mine --template shop --ttl 8h --idle 30m --wait\n  myaas connect mine\n  myaas create database before-migration --from mine --wait',
    )
    .action(
      async (
        kind: string,
        name: string,
        options: {
          template?: string;
          from?: string;
          ttl?: number;
          port?: number;
          idle?: { after?: string; action: string };
          wait?: boolean;
          timeout: number;
        },
      ) => {
        if (!/^(db|databases?)$/i.test(kind))
          throw new CliError(
            'create makes databases; declare templates in a spec file and `myaas apply -f` it',
          );
        if (Boolean(options.template) === Boolean(options.from))
          throw new CliError(
            'give --template T (a clone of a template) or --from DB (a branch of a database), one of them',
          );
        const spec = {
          ...(options.template ? { template: options.template } : {}),
          ...(options.from ? { source: { database: options.from } } : {}),
          ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
          ...(options.port !== undefined ? { port: options.port } : {}),
          ...(options.idle ? { idle: options.idle } : {}),
        };
        await context.client().call('POST', '/api/v1/databases', { metadata: { name }, spec });
        context.out(`database/${name} created`);
        if (!options.wait) return;
        const ready = await waitForDatabase(
          context.client(),
          name,
          (phase) => phase === 'Ready',
          'ready',
          options.timeout * 1000,
        );
        const port = (ready.status as { connection?: { port: number } }).connection?.port;
        context.out(`database/${name} ready on port ${port} (myaas connect ${name})`);
      },
    );
}

/**
 * `start`: the API's start route, which starts a database the idle watch stopped (wherever it is
 * declared: its spec still says Running) as well as an API-managed one whose spec says Stopped.
 */
function registerStart(program: Command, context: CommandContext): void {
  program
    .command('start')
    .description('start a stopped database: one stopped for idleness, or one whose spec.state is Stopped')
    .argument('<name>', 'database')
    .option('--wait', 'wait until it is Ready')
    .addOption(timeoutOption())
    .addHelpText('after', '\nExample:\n  myaas start mine --wait')
    .action(async (name: string, options: { wait?: boolean; timeout: number }) => {
      const object = await getDatabase(context.client(), name);
      if (object.spec.state === 'Running' && phaseOf(object) === 'Ready') {
        context.out(`database/${name} unchanged (Ready)`);
        return;
      }
      const idleStopped = conditionIs(object, 'IdleStopped', 'True');
      if (object.spec.state === 'Stopped' && !isManaged(object))
        throw new CliError(
          `database ${name} is declared in ${object.source?.file ?? 'a spec file'}: set spec.state: Running there (the controller follows the file)`,
        );
      if (object.spec.state === 'Running' && !idleStopped)
        context.out(`database/${name} already Running (${phaseOf(object)})`);
      else {
        await context.client().call('POST', `/api/v1/databases/${encodeURIComponent(name)}/start`);
        context.out(`database/${name} starting${idleStopped ? ' (it was stopped for idleness)' : ''}`);
      }
      if (!options.wait) return;
      await waitForDatabase(context.client(), name, (p) => p === 'Ready', 'Ready', options.timeout * 1000);
      context.out(`database/${name} ready`);
    });
}

/** Whether a condition of the object's status has that status. */
function conditionIs(object: ApiObject, type: string, value: string): boolean {
  const conditions = ((object.status ?? {}) as { conditions?: { type: string; status: string }[] })
    .conditions;
  return conditions?.some((c) => c.type === type && c.status === value) ?? false;
}

function registerStop(program: Command, context: CommandContext): void {
  program
    .command('stop')
    .description('stop a database, keeping its data (spec.state: Stopped)')
    .argument('<name>', 'database')
    .option('--wait', 'wait until it is Stopped')
    .addOption(timeoutOption())
    .addHelpText('after', '\nExample:\n  myaas stop mine --wait')
    .action(async (name: string, options: { wait?: boolean; timeout: number }) => {
      const object = await getDatabase(context.client(), name);
      if (object.spec.state === 'Stopped' && phaseOf(object) === 'Stopped') {
        context.out(`database/${name} unchanged (Stopped)`);
        return;
      }
      if (object.spec.state !== 'Stopped') {
        await changeSpec(
          context,
          object,
          (spec) => {
            spec.state = 'Stopped';
          },
          'set spec.state: Stopped',
        );
        context.out(`database/${name} stopping`);
      } else context.out(`database/${name} already Stopped (${phaseOf(object)})`);
      if (!options.wait) return;
      await waitForDatabase(
        context.client(),
        name,
        (p) => p === 'Stopped',
        'Stopped',
        options.timeout * 1000,
      );
      context.out(`database/${name} stopped`);
    });
}

function registerExtend(program: Command, context: CommandContext): void {
  program
    .command('extend')
    .summary('make a database expire DURATION from now (never sooner than it would)')
    .description(
      'make a database expire DURATION from now: sets spec.expiresAt to now + DURATION and drops spec.ttl ' +
        '(a ttl counts from creation; the new expiry counts from now). Never shortens: when the database ' +
        'already expires later, nothing changes',
    )
    .argument('<name>', 'database')
    .argument('<duration>', DURATION_HELP, durationArg)
    .addHelpText(
      'after',
      '\nExample:\n  myaas extend mine 2h      # expires 2 hours from now (spec.expiresAt), unless that is sooner than now',
    )
    .action(async (name: string, seconds: number) => {
      const object = await getDatabase(context.client(), name);
      const status = (object.status ?? {}) as { phase?: string; expiresAt?: string };
      if (status.phase === 'Expired')
        throw new CliError(
          `database ${name} has expired; its data is in the trash: \`myaas restore ${name}\` brings it back`,
        );
      if (object.spec.ttl === undefined && object.spec.expiresAt === undefined)
        throw new CliError(`database ${name} never expires: nothing to extend`);
      const expiry = extendedExpiry(status.expiresAt, seconds);
      if (!expiry) {
        context.out(
          `database/${name} unchanged: it expires at ${status.expiresAt} (in ${until(status.expiresAt)}), later than that`,
        );
        return;
      }
      await changeSpec(
        context,
        object,
        (spec) => {
          spec.ttl = undefined;
          spec.expiresAt = expiry.toISOString();
        },
        'change spec.ttl or spec.expiresAt',
      );
      context.out(
        `database/${name} extended: expires at ${expiry.toISOString()} (in ${until(expiry.toISOString())}; was ${status.expiresAt ? `in ${until(status.expiresAt)}` : 'unknown'})`,
      );
    });
}

function registerLogs(program: Command, { client, out }: CommandContext): void {
  program
    .command('logs')
    .description("the last lines of a database server's own log (owner or admin)")
    .argument('<name>', 'database')
    .option('--tail <lines>', 'how many lines', (v) => Number(v), 100)
    .addHelpText('after', '\nExample:\n  myaas logs mine --tail 20')
    .action(async (name: string, options: { tail: number }) => {
      const text = await client().text(
        `/api/v1/databases/${encodeURIComponent(name)}/logs?lines=${encodeURIComponent(String(options.tail))}`,
      );
      if (text.trim()) out(text.trimEnd());
    });
}

/** What `down` does to one database: stop it, remove it, or say which file declares it. */
async function downOne(
  context: CommandContext,
  object: ApiObject,
  remove: boolean,
): Promise<'stopping' | 'removed' | 'skipped' | 'in-file'> {
  const name = object.metadata.name;
  const phase = phaseOf(object);
  if (!isManaged(object)) {
    if (!remove && (object.spec.state === 'Stopped' || phase === 'Expired')) return 'skipped';
    context.out(
      `database/${name} is declared in the spec file ${object.source?.file} (in the controller's specs dir): ${remove ? 'delete it there' : 'set spec.state: Stopped there'}; myaas leaves spec files to their owner`,
    );
    return 'in-file';
  }
  if (remove) {
    await context.client().call('DELETE', `/api/v1/databases/${encodeURIComponent(name)}`);
    context.out(`database/${name} deleted (into the trash: myaas restore ${name} brings it back)`);
    return 'removed';
  }
  if (object.spec.state === 'Stopped' || phase === 'Expired') return 'skipped';
  await changeSpec(
    context,
    object,
    (spec) => {
      spec.state = 'Stopped';
    },
    'set spec.state: Stopped',
  );
  return 'stopping';
}

function registerDown(program: Command, context: CommandContext): void {
  program
    .command('down')
    .summary('stop every database, data kept (--remove: delete them)')
    .description(
      'stop every database you can see, keeping their data (spec.state: Stopped); --remove deletes them ' +
        '(into the trash). Databases declared in spec files are named with the file to edit: the files ' +
        'stay the desired state',
    )
    .option('--remove', 'delete the databases instead (restorable from the trash)')
    .option('--no-wait', 'do not wait until they are stopped')
    .addOption(timeoutOption().default(120, '2m'))
    .addHelpText(
      'after',
      '\nExample:\n  myaas down              # then stop the controller (Ctrl-C)\n  myaas down --remove',
    )
    .action(async (options: { remove?: boolean; wait: boolean; timeout: number }) => {
      const { items } = await context.client().call<{ items: ApiObject[] }>('GET', '/api/v1/databases');
      const stopping: string[] = [];
      let inFiles = 0;
      for (const object of items) {
        const done = await downOne(context, object, options.remove ?? false);
        if (done === 'stopping') stopping.push(object.metadata.name);
        if (done === 'in-file') inFiles++;
      }
      for (const name of stopping) {
        if (options.wait)
          await waitForDatabase(
            context.client(),
            name,
            (phase) => !['Ready', 'Starting', 'Cloning'].includes(phase),
            'stopped',
            options.timeout * 1000,
          );
        context.out(`database/${name} ${options.wait ? 'stopped' : 'stopping'}`);
      }
      if (stopping.length === 0 && inFiles === 0 && !options.remove) context.out('no running databases');
    });
}

export function registerLifecycleCommands(program: Command, context: CommandContext): void {
  registerCreate(program, context);
  registerStart(program, context);
  registerStop(program, context);
  registerExtend(program, context);
  registerLogs(program, context);
  registerDown(program, context);
}
