import { Command } from 'commander';
import { packageVersion } from '../util/package.js';
import type { Out } from './commands/common.js';
import { registerCommands } from './commands/index.js';

/** The `myaas` program: every command, `--version` from package.json. */
export function buildProgram(out?: Out): Command {
  const program = new Command('myaas')
    .description(
      'Instant, disposable MySQL/MariaDB and PostgreSQL databases cloned from copy-on-write templates',
    )
    .version(packageVersion(), '-V, --version', 'print the version of myaas')
    .showHelpAfterError();
  registerCommands(program, out);
  return program;
}
