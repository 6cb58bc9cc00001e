import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram } from '../../../controller/cli/program.js';

const README = readFileSync(path.resolve(import.meta.dirname, '../../../README.md'), 'utf8');

/** Flags README names that belong to other programs, each with the program. */
const FOREIGN: Record<string, string> = {
  '--exit-on-error': 'pg_restore',
  '--no-owner': 'pg_restore',
  '--no-privileges': 'pg_restore',
  '--single-transaction': 'pg_restore',
  '--privileged': 'docker run',
  '--cap-add': 'docker run',
  '--network': 'docker build',
  '--project': 'vitest',
  '--sandbox': 'mariadb (the client)',
  '--local-infile': 'mariadb (the client)',
  '--create': 'pg_dump',
  '--schema-only': 'pg_restore',
  '--set': 'helm install',
  '--create-namespace': 'helm install',
  '--from-literal': 'kubectl create secret',
};

const flagsIn = (text: string) =>
  new Set([...text.matchAll(/(?<![\w-])--[a-z][a-z0-9-]*/g)].map((m) => m[0]));

function longFlags(command: Command): Set<string> {
  return new Set(command.options.map((o) => o.long).filter((l): l is string => Boolean(l)));
}

/** The lines of `myaas controller ...` command lines in README's code blocks, continuations included. */
function controllerCommandLines(readme: string): string[] {
  const lines: string[] = [];
  for (const block of readme.matchAll(/```[a-z]*\n([\s\S]*?)```/g)) {
    let inside = false;
    for (const line of block[1]!.split('\n')) {
      if (/^\s*myaas controller\b/.test(line)) inside = true;
      if (inside) lines.push(line);
      // A command goes on after a trailing backslash, or inside an unclosed [ ... ].
      const open = lines.join('\n').split('[').length - lines.join('\n').split(']').length;
      if (inside && !/\\\s*$/.test(line) && open <= 0) inside = false;
    }
  }
  return lines;
}

describe('README flags', () => {
  const program = buildProgram(() => undefined);
  const controller = program.commands.find((c) => c.name() === 'controller')!;
  const all = new Set([...program.commands.flatMap((c) => [...longFlags(c)]), '--help', '--version']);

  it('every --flag README names exists on a myaas command (or is another program flag it names)', () => {
    const missing = [...flagsIn(README)].filter((f) => !all.has(f) && !(f in FOREIGN));
    expect(missing).toEqual([]);
  });

  it('README names no other program flag that myaas itself has (the list above stays honest)', () => {
    expect(Object.keys(FOREIGN).filter((f) => all.has(f))).toEqual([]);
  });

  it('every flag on a `myaas controller` line of README is a flag of `myaas controller`', () => {
    const lines = controllerCommandLines(README);
    expect(lines.length).toBeGreaterThan(2);
    const own = longFlags(controller);
    expect([...flagsIn(lines.join('\n'))].filter((f) => !own.has(f))).toEqual([]);
  });

  it('README says which flags of the controller read an env variable, and they do', () => {
    const envs = [...README.matchAll(/`(MYAAS_[A-Z_]+)`/g)].map((m) => m[1]!);
    const controllerEnvs = new Set(controller.options.map((o) => o.envVar).filter(Boolean));
    const listed = README.slice(README.indexOf('These controller flags also read an env variable'));
    const named = envs.filter((e) => listed.slice(0, 600).includes(e));
    expect(named.length).toBeGreaterThan(5);
    expect(named.filter((e) => !controllerEnvs.has(e))).toEqual([]);
  });
});
