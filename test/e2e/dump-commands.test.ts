import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PG_DUMP_PREAMBLE } from '../support/dumps.js';
import { databaseObject, templateObject } from '../support/specs.js';
import { DOCKER_BTRFS, PROCESS_COPY, type Pair, TestBed } from '../support/testbed.js';
import { waitFor } from '../support/wait.js';

/**
 * Issue 14, "dumps cannot run commands on the host": a dump is code, and the engines' clients run
 * commands of their own (`\!`, `system`, `\copy ... to program`). On the process runtime those clients
 * run on the host; on docker, in the import container. Every such dump is a failed import that says
 * why, on both runtimes, and no command of a dump ever touches the host.
 */
function describeDumpCommands(pair: Pair): void {
  describe(`dumps cannot run commands (${pair.runtime} + ${pair.storage})`, () => {
    const bed = new TestBed(`dump-commands-${pair.runtime}`, { pair });
    const marker = `/tmp/myaas-marker-${randomBytes(4).toString('hex')}`;
    const markers = () =>
      readdirSync('/tmp')
        .filter((f) => f.startsWith(marker.slice('/tmp/'.length)))
        .sort();

    /** The dumps, each with the line its command is on. */
    const mariadb: Record<string, { sql: string; line?: number }> = {
      'maria-shell': {
        sql: `CREATE TABLE t (id INT);\nINSERT INTO t VALUES (1);\n\\! touch ${marker}-maria-shell\nINSERT INTO t VALUES (2);\n`,
        line: 3,
      },
      'maria-system': {
        sql: `CREATE TABLE t (id INT);\nsystem touch ${marker}-maria-system\n`,
        line: 2,
      },
      // Written by mariadb-dump: loaded over two client connections, both sandboxed. The loader
      // rearranges it, so the client's line numbers are not the dump's: no line is given.
      'maria-dumped': {
        sql: [
          '-- MariaDB dump 10.19  Distrib 10.11.6-MariaDB, for debian-linux-gnu (x86_64)',
          '/*!40101 SET NAMES utf8mb4 */;',
          'CREATE TABLE `t` (',
          '  `id` int(11) NOT NULL,',
          '  PRIMARY KEY (`id`)',
          ') ENGINE=InnoDB;',
          ...Array.from({ length: 6 }, (_, i) => `INSERT INTO \`t\` VALUES (${i + 1});`),
          `\\! touch ${marker}-maria-dumped`,
          'INSERT INTO `t` VALUES (7);',
          '',
        ].join('\n'),
      },
    };
    const postgres: Record<string, { sql: string; line: number }> = {
      'pg-shell': { sql: `CREATE TABLE t (id int);\n\\! touch ${marker}-pg-shell\n`, line: 2 },
      'pg-program': {
        sql: `CREATE TABLE t (id int);\n\\copy (select 1) to program 'touch ${marker}-pg-program'\n`,
        line: 2,
      },
      // pg_dump's layout: COPY data with backslashes passes, a meta-command after a ';' does not.
      'pg-midline': {
        sql: `${PG_DUMP_PREAMBLE}CREATE TABLE public.t (id integer, body text);\nCOPY public.t (id, body) FROM stdin;\n1\tback\\\\slash\n2\t\\\\! not a command\n\\.\nSELECT 1; \\! touch ${marker}-pg-midline\n`,
        line: 15,
      },
    };

    beforeAll(async () => {
      for (const [name, { sql }] of Object.entries(mariadb)) bed.writeDump(`${name}.sql`, sql);
      for (const [name, { sql }] of Object.entries(postgres)) bed.writeDump(`${name}.sql`, sql);
      bed.writeDump('pg-legit.sql', legitPostgresDump());
      await bed.start();
    });
    afterAll(async () => {
      await bed.destroy();
      for (const f of markers()) rmSync(`/tmp/${f}`, { force: true });
    });

    it('a MariaDB dump with \\! or system is a failed import that says so and where; nothing runs', async () => {
      for (const name of Object.keys(mariadb)) bed.writeSpec(`${name}.yaml`, templateObject(name));
      for (const [name, { line }] of Object.entries(mariadb)) {
        const t = await bed.waitForTemplate(name, (s) => s.lastImport?.result === 'Failed', 'failed');
        expect(t.status.lastImport!.error).toMatch(/a dump may not run commands/);
        expect(t.status.lastImport!.errorLine).toBe(line);
        expect(t.status.currentVersion).toBeUndefined();
      }
      expect(markers()).toEqual([]);
    });

    it('a PostgreSQL plain dump with \\!, \\copy to program or a meta-command after a ; is a failed import that says so and where; nothing runs', async () => {
      for (const name of Object.keys(postgres))
        bed.writeSpec(`${name}.yaml`, templateObject(name, { engine: 'postgres' }));
      for (const [name, { line }] of Object.entries(postgres)) {
        const t = await bed.waitForTemplate(name, (s) => s.lastImport?.result === 'Failed', 'failed');
        expect(t.status.lastImport!.error).toMatch(/a dump may not run commands/);
        expect(t.status.lastImport!.error).toMatch(/psql meta-command \\(!|copy)/);
        expect(t.status.lastImport!.errorLine).toBe(line);
        expect(t.status.currentVersion).toBeUndefined();
      }
      expect(markers()).toEqual([]);
    });

    it("a plain dump with backslashes in its data, strings, comments and pg_dump's \\restrict lines imports whole", async () => {
      bed.writeSpec(
        'pg-legit.yaml',
        templateObject('pg-legit', { engine: 'postgres' }),
        databaseObject('legit', { template: 'pg-legit' }),
      );
      await bed.waitForDatabase('legit', 'Ready', 180_000);
      expect(await bed.query('legit', 'SELECT id, body FROM notes ORDER BY id')).toEqual([
        { id: 1, body: 'C:\\dir\\file' },
        { id: 2, body: '\\! not a command' },
        { id: 3, body: null },
        { id: 4, body: 'a\tb' },
        { id: 5, body: '\\.x' },
      ]);
      expect(await bed.query('legit', 'SELECT slashed FROM slashes ORDER BY id')).toEqual([
        { slashed: 'C:/dir/file' },
        { slashed: '/! not a command' },
        { slashed: null },
        { slashed: 'a\tb' },
        { slashed: '/.x' },
      ]);
      expect(await bed.query('legit', 'SELECT public.f() AS f, public.g() AS g')).toEqual([
        { f: '\\! dollar', g: "it\\'s" },
      ]);
      expect(await bed.query('legit', "SELECT obj_description('public.notes'::regclass) AS c")).toEqual([
        { c: 'ends with \\' },
      ]);
      expect(markers()).toEqual([]);
    });

    if (pair.runtime === 'docker') {
      it("the import's clients run in the import container, as its user: what they run stays there", async () => {
        bed.writeDump('maria-slow.sql', 'CREATE TABLE t (id INT);\nDO SLEEP(6);\n');
        bed.writeSpec('slow.yaml', templateObject('maria-slow'));
        const server = await waitFor(
          'the import server',
          async () => (await bed.servers()).find((s) => s.role === 'Import' && s.running),
          120_000,
          50,
        );
        // What a client without a sandbox would do for a dump's \! line: a program beside the server.
        const runtime = await bed.runtime();
        const session = await runtime.programs.exec(
          server.id,
          ['sh', '-c', `touch ${marker}-contained && id -u && ls ${marker}-contained`],
          {},
        );
        session.stdin.end();
        const result = await session.result;
        expect(result).toEqual({ exitCode: 0, output: `999\n${marker}-contained\n` });
        expect(runtime.programs.place).toBe('container');
        expect(markers()).toEqual([]);
        await bed.waitForTemplate('maria-slow', (s) => s.phase === 'Ready', 'Ready');
      });
    }

    if (pair.runtime === 'process') {
      it("the import's clients never run as root: as the server's own OS user", async () => {
        bed.writeDump('maria-slow.sql', 'CREATE TABLE t (id INT);\nDO SLEEP(4);\n');
        bed.writeDump('pg-slow.sql', 'CREATE TABLE t (id int);\nSELECT pg_sleep(4);\n');
        bed.writeSpec(
          'slow.yaml',
          templateObject('maria-slow'),
          templateObject('pg-slow', { engine: 'postgres' }),
        );
        const seen = new Map<string, Set<number>>();
        await waitFor(
          'both clients seen',
          () => {
            for (const { comm, uid } of childProcesses()) {
              if (!seen.has(comm)) seen.set(comm, new Set());
              seen.get(comm)!.add(uid);
            }
            return seen.has('mariadb') && seen.has('psql');
          },
          120_000,
          50,
        );
        expect([...seen.get('mariadb')!]).toEqual([uidOf('mysql')]);
        expect([...seen.get('psql')!]).toEqual([uidOf('postgres')]);
        for (const name of ['maria-slow', 'pg-slow'])
          await bed.waitForTemplate(name, (s) => s.phase === 'Ready', 'Ready');
      });
    }
  });
}

/** What pg_dump writes, with backslashes wherever a plain dump may legitimately hold them. */
function legitPostgresDump(): string {
  return [
    '--',
    '-- PostgreSQL database dump',
    '--',
    '',
    '\\restrict Ab12Cd34Ef56',
    '',
    PG_DUMP_PREAMBLE,
    'CREATE TABLE public.notes (id integer NOT NULL, body text);',
    "COMMENT ON TABLE public.notes IS 'ends with \\';",
    // A string ending in a backslash, a quote after one, a dollar-quoted body, comments.
    "CREATE VIEW public.slashes AS SELECT id, replace(body, '\\', '/') AS slashed FROM public.notes; -- \\! no",
    "CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $_$ SELECT '\\! dollar'::text $_$;",
    "CREATE FUNCTION public.g() RETURNS text LANGUAGE sql AS 'SELECT ''it\\''''s''::text';",
    '/* \\! in a block comment',
    '   over two lines */',
    'COPY public.notes (id, body) FROM stdin;',
    '1\tC:\\\\dir\\\\file',
    '2\t\\\\! not a command',
    '3\t\\N',
    '4\ta\\tb',
    '5\t\\\\.x',
    '\\.',
    '',
    '\\unrestrict Ab12Cd34Ef56',
    '',
  ].join('\n');
}

/** Programs this process started (the import's clients), by name and uid. */
function childProcesses(): { comm: string; uid: number }[] {
  const found: { comm: string; uid: number }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const ppid = Number(/^PPid:\s+(\d+)/m.exec(status)?.[1]);
      if (ppid !== process.pid) continue;
      const comm = /^Name:\s+(\S+)/m.exec(status)?.[1] ?? '';
      found.push({ comm, uid: Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

function uidOf(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no user ${user}`);
  return Number(line.split(':')[2]);
}

describeDumpCommands(PROCESS_COPY);
describeDumpCommands(DOCKER_BTRFS);
