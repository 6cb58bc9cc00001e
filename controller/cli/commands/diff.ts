import { type Command, Option } from 'commander';
import type { SchemaChange, SchemaDiffView } from '../../objects/index.js';
import type { CommandContext } from './common.js';

const SIGNS: Record<SchemaChange['change'], string> = { added: '+', removed: '-', changed: '~' };

/**
 * One line per change, as diff tools mark them: `+ column orders.note (text, null)`,
 * `- index orders.idx_created (on created)`, `~ column users.email: type varchar(100) -> varchar(255)`.
 */
export function formatSchemaDiff(view: SchemaDiffView): string {
  if (view.changes.length === 0)
    return `no schema changes against ${view.base.template}/${view.base.version}`;
  return view.changes
    .map((c) => {
      const head = `${SIGNS[c.change]} ${c.kind} ${c.name}`;
      if (!c.details?.length) return head;
      return c.change === 'changed'
        ? `${head}: ${c.details.join('; ')}`
        : `${head} (${c.details.join(', ')})`;
    })
    .join('\n');
}

/** `diff`: what a database's schema changed since the template version it was cloned from. */
export function registerDiffCommand(program: Command, { client, out }: CommandContext): void {
  program
    .command('diff')
    .description(
      'list what a database changed in its schema (tables, columns, indexes, views, routines, triggers) since its template version',
    )
    .argument('<name>', 'database (running: its schema is read from its server)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['json']))
    .addHelpText('after', '\nExample:\n  myaas diff mine\n  myaas diff mine -o json')
    .action(async (name: string, options: { output?: string }) => {
      const view = await client().call<SchemaDiffView>(
        'GET',
        `/api/v1/databases/${encodeURIComponent(name)}/diff`,
      );
      out(options.output === 'json' ? JSON.stringify(view, null, 2) : formatSchemaDiff(view));
    });
}
