#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './cli/commands/index.js';

export function buildProgram(): Command {
  const program = new Command('myaas')
    .description(
      'Instant, disposable MySQL/MariaDB and PostgreSQL databases cloned from copy-on-write templates',
    )
    .showHelpAfterError();
  registerCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (error) {
  process.stderr.write(`myaas: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
