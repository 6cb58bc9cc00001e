import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import type { ApiObject } from '../../api/objects.js';
import { clientCommandLine } from '../../engine/client-line.js';
import { DEFAULT_ENGINE, engineFor } from '../../engine/engines.js';
import type { EngineName } from '../../objects/index.js';
import { type ApiClient, CliError } from '../api-client.js';
import { type CommandContext, getDatabase, isManaged } from './common.js';

interface SeedDatabase {
  database: string;
  host: string;
  port: string;
  user: string;
  password: string;
}

/** A database and its connection, as the seed API gives it. */
export async function seedConnection(
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
export function clientFor(seed: SeedDatabase, status: unknown) {
  const engine = engineFor((status as { engine?: EngineName } | undefined)?.engine ?? DEFAULT_ENGINE);
  return engine.client.command({
    host: seed.host,
    port: Number(seed.port),
    user: seed.user,
    password: seed.password,
    database: seed.database,
  });
}

/** Why `connect` cannot connect to this database now, and what to do about it; undefined when Ready. */
export function notReadyProblem(object: ApiObject): string | undefined {
  const name = object.metadata.name;
  const status = (object.status ?? {}) as { phase?: string; message?: string };
  const phase = status.phase ?? 'Pending';
  if (phase === 'Ready') return undefined;
  if (phase === 'Stopped')
    return isManaged(object)
      ? `database ${name} is stopped: start it with \`myaas start ${name} --wait\``
      : `database ${name} is stopped: set spec.state: Running in ${object.source?.file ?? 'its spec file'} to start it`;
  if (phase === 'Expired')
    return `database ${name} has expired: \`myaas restore ${name}\` brings it back from the trash`;
  return `database ${name} is not ready (${phase}${status.message ? `: ${status.message}` : ''})`;
}

/** `connect`: the engine's client on a database, or its command line, or a DSN. */
export function registerConnectCommand(program: Command, { client, out }: CommandContext): void {
  program
    .command('connect')
    .description(
      "open the engine's client on a database (mariadb, mysql or psql), or print the command / a DSN",
    )
    .argument('<name>', 'database')
    .option('--print', 'print the command instead of running it')
    .option('--dsn', 'print a DSN (mysql:// or postgresql://)')
    .addHelpText('after', '\nExample:\n  myaas connect mine\n  myaas connect mine --dsn')
    .action(async (name: string, options: { print?: boolean; dsn?: boolean }) => {
      const problem = notReadyProblem(await getDatabase(client(), name));
      if (problem) throw new CliError(problem);
      const { object, seed } = await seedConnection(client(), name);
      const engine = engineFor(
        (object.status as { engine?: EngineName } | undefined)?.engine ?? DEFAULT_ENGINE,
      );
      if (options.dsn) return out(engine.client.dsn({ ...seed, port: Number(seed.port) }));
      const command = clientFor(seed, object.status);
      if (options.print) return out(clientCommandLine(command));
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
