import type { Command } from 'commander';
import type { CommandContext } from './common.js';

/** `reset`, `reimport`, `confirm-deletions`: asking the controller to act on objects it has. */
export function registerActionCommands(program: Command, { client, out }: CommandContext): void {
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
}
