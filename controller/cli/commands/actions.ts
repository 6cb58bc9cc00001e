import type { Command } from 'commander';
import type { TrashItemView } from '../../objects/index.js';
import { CliError } from '../api-client.js';
import { table } from '../format.js';
import type { CommandContext } from './common.js';

/** `reset`, `reimport`, `confirm-deletions`, `trash`, `restore`: asking the controller to act on objects. */
export function registerActionCommands(program: Command, { client, out }: CommandContext): void {
  program
    .command('reset')
    .description("give a database a fresh copy of its template's current data (same name, port, credentials)")
    .argument('<name>', 'database')
    .addHelpText('after', '\nExample:\n  myaas reset mine')
    .action(async (name: string) => {
      await client().call('POST', `/api/v1/databases/${encodeURIComponent(name)}/reset`);
      out(`database/${name} reset requested`);
    });

  program
    .command('reimport')
    .description('import a template again from its dump')
    .argument('<name>', 'template')
    .addHelpText(
      'after',
      '\nExample:\n  myaas reimport shop\n  myaas get templates -w     # PROGRESS while it imports',
    )
    .action(async (name: string) => {
      await client().call('POST', `/api/v1/templates/${encodeURIComponent(name)}/reimport`);
      out(`template/${name} reimport requested`);
    });

  program
    .command('snapshot')
    .description(
      "save a database's data as it is now as a template the team can clone (a Template with source.database; again: a new version)",
    )
    .argument('<database>', 'the database to copy (it keeps running)')
    .requiredOption('-t, --template <template>', 'the template to make (or give a new version)')
    .addHelpText(
      'after',
      '\nExample:\n  myaas snapshot alice-shop --template shop-after-migration\n  myaas create database bob-shop --template shop-after-migration',
    )
    .action(async (database: string, options: { template: string }) => {
      const route = `/api/v1/templates/${encodeURIComponent(options.template)}`;
      const found = await client().request<{ spec?: { source?: { database?: string } } }>('GET', route);
      if (found.status === 404) {
        await client().call('PUT', route, {
          apiVersion: 'myaas.dev/v1alpha1',
          kind: 'Template',
          metadata: { name: options.template },
          spec: { source: { database } },
        });
        out(`template/${options.template} created: a snapshot of database/${database} is being taken`);
        return;
      }
      if (found.status >= 400) await client().call('GET', route);
      const current = found.body.spec?.source?.database;
      if (current !== database)
        throw new CliError(
          `template ${options.template} exists and is ${current ? `a snapshot of database ${current}` : 'made of a dump'}: choose another --template name`,
        );
      await client().call('POST', `${route}/reimport`);
      out(`template/${options.template}: a new snapshot of database/${database} requested`);
    });

  program
    .command('confirm-deletions')
    .description('let a held mass removal go ahead')
    .addHelpText(
      'after',
      '\nExample:\n  myaas confirm-deletions    # after a look at what is held: curl -s localhost:5001/api/v1/deletions',
    )
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
    .command('trash')
    .description('list removed databases and templates that can still be restored')
    .addHelpText('after', '\nExample:\n  myaas trash\n  myaas restore alice-shop')
    .action(async () => {
      const { items } = await client().call<{ items: TrashItemView[] }>('GET', '/api/v1/trash');
      const rows = items.map((i) => [
        i.kind.toLowerCase(),
        i.name,
        i.reason,
        i.template ?? '',
        i.trashedAt.replace('T', ' ').slice(0, 19),
        i.expiresAt.replace('T', ' ').slice(0, 19),
        i.id,
      ]);
      out(table(['KIND', 'NAME', 'REASON', 'TEMPLATE', 'REMOVED', 'KEPT UNTIL', 'ID'], rows));
    });

  program
    .command('restore')
    .description('bring a database back from the trash: same data, port and credentials')
    .argument('<name-or-id>', 'database name (its newest entry) or a trash entry id from `myaas trash`')
    .addHelpText(
      'after',
      '\nExample:\n  myaas restore alice-shop\n  myaas restore alice-shop@20261205-081900-123-a1b2',
    )
    .action(async (nameOrId: string) => {
      const result = await client().call<{ entry: string; phase?: string }>(
        'POST',
        `/api/v1/trash/${encodeURIComponent(nameOrId)}/restore`,
      );
      out(`database restored from ${result.entry} (${result.phase ?? 'starting'})`);
    });
}
