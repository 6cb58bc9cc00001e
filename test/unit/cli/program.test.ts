import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../controller/cli/program.js';

const ROOT = path.resolve(import.meta.dirname, '../../..');

/** What `myaas [command] --help` prints, text added after included. */
function helpOf(command: Command): string {
  const parts: string[] = [];
  command.configureOutput({ writeOut: (s) => parts.push(s), writeErr: (s) => parts.push(s) });
  command.outputHelp();
  return parts.join('');
}

function commandsOf(command: Command): Command[] {
  return command.commands.flatMap((c) => [c, ...commandsOf(c)]);
}

describe('the myaas program', () => {
  const program = buildProgram(() => undefined);

  it('every command has an example in its --help', () => {
    const commands = commandsOf(program);
    expect(commands.length).toBeGreaterThan(20);
    const without = commands
      .filter((c) => !/\nExample:\n {2}(\S.*)?\bmyaas /.test(helpOf(c)))
      .map((c) => c.name());
    expect(without).toEqual([]);
  });

  it('has the habits the issue asks for', () => {
    const names = commandsOf(program).map((c) => c.name());
    for (const name of ['create', 'start', 'stop', 'extend', 'logs', 'down', 'apply', 'get', 'connect'])
      expect(names).toContain(name);
  });

  it('--version prints the version in package.json', async () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const printed: string[] = [];
    const p = buildProgram(() => undefined)
      .exitOverride()
      .configureOutput({ writeOut: (s) => printed.push(s) });
    await expect(p.parseAsync(['node', 'myaas', '--version'])).rejects.toMatchObject({
      code: 'commander.version',
    });
    expect(printed.join('').trim()).toBe(pkg.version);
  });

  it('names PostgreSQL beside MySQL/MariaDB in its help', () => {
    expect(helpOf(program)).toMatch(/MySQL\/MariaDB and\s+PostgreSQL/);
    const controller = program.commands.find((c) => c.name() === 'controller')!;
    expect(helpOf(controller)).toMatch(/PostgreSQL/);
  });

  it('extend says in its help what it does with a ttl that counts from creation', () => {
    const extend = program.commands.find((c) => c.name() === 'extend')!;
    const help = helpOf(extend).replace(/\s+/g, ' ');
    expect(help).toContain('sets spec.expiresAt to now + DURATION and drops spec.ttl');
    expect(help).toContain('Never shortens');
  });
});
