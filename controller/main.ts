#!/usr/bin/env node
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { type ApiServer, createApi } from './api/api-server.js';
import { registerClientCommands } from './cli/commands.js';
import { printValidateReport, validatePaths } from './cli/validate.js';
import { type ControllerConfig, RUNTIMES, STORAGES, defaultConfig } from './config.js';
import { createLogger } from './log.js';
import { ENGINES } from './objects/index.js';
import { startController } from './run.js';
import { loadSchemas } from './spec/schema.js';

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected an integer from 1 up');
  return n;
};

export function buildProgram(): Command {
  const program = new Command('myaas')
    .description(
      'Instant, disposable MariaDB/MySQL and PostgreSQL databases cloned from copy-on-write templates',
    )
    .showHelpAfterError();

  const defaults = defaultConfig();
  program
    .command('controller')
    .description('run the controller: watch the specs dir and make databases and templates match it')
    .addOption(
      new Option('--specs <dir>', 'specs dir (YAML)').env('MYAAS_SPECS_DIR').default(defaults.specsDir),
    )
    .addOption(
      new Option('--dumps <dir>', 'dumps dir (.sql, .sql.gz)')
        .env('MYAAS_DUMPS_DIR')
        .default(defaults.dumpsDir),
    )
    .addOption(
      new Option('--data <dir>', 'data root (templates, clones, state)')
        .env('MYAAS_DATA_DIR')
        .default(defaults.dataDir),
    )
    .addOption(
      new Option('--runtime <name>', 'where servers run')
        .choices(RUNTIMES)
        .env('MYAAS_RUNTIME')
        .default(defaults.runtime),
    )
    .addOption(
      new Option('--storage <name>', 'how datadirs are cloned')
        .choices(STORAGES)
        .env('MYAAS_STORAGE')
        .default(defaults.storage),
    )
    .addOption(
      new Option('--image <image>', 'default server image (docker runtime)')
        .env('MYAAS_IMAGE')
        .default(defaults.image),
    )
    .addOption(
      new Option('--postgres-image <image>', 'default server image of postgres templates (docker runtime)')
        .env('MYAAS_POSTGRES_IMAGE')
        .default(defaults.postgresImage),
    )
    .addOption(
      new Option('--listen <host:port>', 'HTTP API address').env('MYAAS_LISTEN').default(defaults.listen),
    )
    .addOption(
      new Option('--hostname <host>', 'host name given to users')
        .env('MYAAS_HOSTNAME')
        .default(defaults.hostname),
    )
    .addOption(
      new Option('--concurrency <n>', 'reconciles at once')
        .argParser(positiveInt)
        .default(defaults.reconcileConcurrency),
    )
    .addOption(
      new Option('--import-concurrency <n>', 'imports at once')
        .argParser(positiveInt)
        .default(defaults.importConcurrency),
    )
    .addOption(
      new Option('--resync <seconds>', 'full resync period')
        .argParser(positiveInt)
        .default(defaults.resyncSeconds),
    )
    .addOption(
      new Option('--keep-versions <n>', 'template versions kept')
        .argParser(positiveInt)
        .default(defaults.versionsToKeep),
    )
    .addOption(
      new Option('--import-memory <MiB>', 'buffer pool of an import server')
        .argParser(positiveInt)
        .env('MYAAS_IMPORT_MEMORY_MIB')
        .default(defaults.importMemoryMiB),
    )
    .addOption(
      new Option(
        '--import-jobs <n>',
        'parallel connections of an import where the dump allows (PostgreSQL custom-format archives)',
      )
        .argParser(positiveInt)
        .env('MYAAS_IMPORT_JOBS')
        .default(defaults.importJobs),
    )
    .addOption(
      new Option('--database-memory <MiB>', 'memory limit of each database container (0: none)')
        .argParser((v) => (Number(v) === 0 ? 0 : positiveInt(v)))
        .env('MYAAS_DATABASE_MEMORY_MIB')
        .default(defaults.databaseMemoryMiB),
    )
    .addOption(
      new Option(
        '--deletion-guard <n>',
        'removals allowed at once before the guard holds them (and more than half)',
      )
        .argParser(positiveInt)
        .default(defaults.deletionGuardMax),
    )
    .addOption(new Option('--no-implicit-templates', 'do not make templates of unclaimed dumps'))
    .addOption(
      new Option('--implicit-engine <engine>', 'engine of the templates made of unclaimed dumps')
        .choices([...ENGINES])
        .env('MYAAS_IMPLICIT_ENGINE')
        .default(defaults.implicitEngine),
    )
    .action(async (options) => {
      const config: ControllerConfig = {
        ...defaults,
        specsDir: path.resolve(options.specs),
        dumpsDir: path.resolve(options.dumps),
        dataDir: path.resolve(options.data),
        runtime: options.runtime,
        storage: options.storage,
        image: options.image,
        postgresImage: options.postgresImage,
        listen: options.listen,
        hostname: options.hostname,
        reconcileConcurrency: options.concurrency,
        importConcurrency: options.importConcurrency,
        resyncSeconds: options.resync,
        versionsToKeep: options.keepVersions,
        implicitTemplates: options.implicitTemplates,
        implicitEngine: options.implicitEngine,
        importMemoryMiB: options.importMemory,
        importJobs: options.importJobs,
        databaseMemoryMiB: options.databaseMemory,
        deletionGuardMax: options.deletionGuard,
        ...(process.env.MYAAS_API_TOKEN ? { apiToken: process.env.MYAAS_API_TOKEN } : {}),
      };
      const log = createLogger();
      let running: Awaited<ReturnType<typeof startController>>;
      try {
        running = await startController(config, log);
      } catch (error) {
        log.fatal({ err: error }, (error as Error).message);
        process.stderr.write(`myaas: ${(error as Error).message}\n`);
        process.exit(2);
      }
      let api: ApiServer;
      try {
        api = createApi(running, log, config.apiToken);
        await api.listen(config.listen);
      } catch (error) {
        process.stderr.write(`myaas: ${(error as Error).message}\n`);
        await running.stop();
        process.exit(2);
      }
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) {
          log.warn({ signal }, 'second signal: exiting now');
          process.exit(1);
        }
        stopping = true;
        log.info({ signal }, 'stopping; databases keep running');
        // A shutdown that hangs (an engine that stopped answering, say) must not keep the process:
        // nothing is lost by exiting, the next start is level-triggered.
        setTimeout(() => {
          log.error('shutdown did not finish within 20 s: exiting anyway');
          process.exit(1);
        }, 20_000).unref();
        await api.close().catch(() => undefined);
        await running.stop().catch((error: unknown) => log.error({ err: error }, 'stopping failed'));
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    });

  program
    .command('validate')
    .description('check spec files and folders as the controller would; exit 1 on any problem')
    .argument('<paths...>', 'files or folders')
    .action(async (paths: string[]) => {
      const report = await validatePaths(paths, loadSchemas());
      process.exitCode = printValidateReport(report, (line) => process.stdout.write(`${line}\n`));
    });

  registerClientCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`myaas: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
