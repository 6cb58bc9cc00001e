import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import { specToCrd } from '../../controller/api/objects.js';
import { API_VERSION, KINDS, type SpecObject, keyOf } from '../../controller/objects/index.js';
import { isValidName } from '../../controller/spec/names.js';
import { MAX_SPEC_FILE_BYTES, type ParseResult, parseSpecFile } from '../../controller/spec/parse.js';
import { formatProblem } from '../../controller/spec/problems.js';
import { loadSchemas } from '../../controller/spec/schema.js';
import { databaseObject, specFile, templateObject } from '../support/specs.js';

/**
 * Property-based fuzzing of parseSpecFile's contract: whatever the bytes, it returns objects and
 * problems (never throws), and every problem names the file it was given.
 */

const schemas = loadSchemas();

/**
 * Run counts scale with FUZZ_RUNS_FACTOR (a long local hunt: FUZZ_RUNS_FACTOR=20); FUZZ_SEED replays
 * the seed a failure printed.
 */
const RUNS_FACTOR = Number(process.env.FUZZ_RUNS_FACTOR ?? 1);
const SEED = process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED);
const runs = (numRuns: number) => ({ numRuns: Math.ceil(numRuns * RUNS_FACTOR), seed: SEED });
const EXAMPLES = path.resolve(import.meta.dirname, '../../crds-examples/examples');

type Json = unknown;
type Fields = Record<string, unknown>;

/** Asserts the result's shape; returns it for further checks. */
function check(result: ParseResult, file: string): ParseResult {
  expect(Array.isArray(result.objects)).toBe(true);
  expect(Array.isArray(result.problems)).toBe(true);
  for (const problem of result.problems) {
    expect(problem.file).toBe(file);
    expect(typeof problem.message).toBe('string');
    expect(problem.message.length).toBeGreaterThan(0);
    expect(formatProblem(problem).startsWith(file)).toBe(true);
    if (problem.line !== undefined) {
      expect(Number.isInteger(problem.line) && problem.line >= 1).toBe(true);
    }
  }
  const keys = result.objects.map((o) => keyOf(o.object));
  expect(new Set(keys).size).toBe(keys.length);
  for (const parsed of result.objects) {
    expect(KINDS).toContain(parsed.object.kind);
    expect(isValidName(parsed.object.metadata.name)).toBe(true);
    expect(parsed.digest).toMatch(/^[0-9a-f]{16}$/);
    expect(Number.isInteger(parsed.line) && parsed.line >= 1).toBe(true);
  }
  return result;
}

const parseBytes = (bytes: Uint8Array, file: string) => check(parseSpecFile(bytes, file, schemas), file);
const parseText = (text: string, file: string) => parseBytes(Buffer.from(text), file);

/** File names as the callers pass them: relative paths, absolute ones, the API's request label, junk. */
const fileName = fc.oneof(
  fc.constant('specs/x.yaml'),
  fc.constant('/srv/myaas/specs/team/a b.yaml'),
  fc.constant('request body (Database/alice)'),
  fc.string({ minLength: 1, maxLength: 30 }),
);

/** Fragments that mean something to a YAML parser, to reach past the first syntax error. */
const YAML_TOKENS = [
  ':',
  ': ',
  '- ',
  '\n',
  '\n  ',
  '  ',
  '---\n',
  '...\n',
  '&a ',
  '*a',
  '! ',
  '!!str ',
  '!!binary ',
  '!!set ',
  '!!omap ',
  '!foo ',
  '{',
  '}',
  '[',
  ']',
  ',',
  '"',
  "'",
  '|\n',
  '>-\n',
  '# ',
  '%YAML 1.1\n',
  '%TAG ! tag:x,2000:\n',
  '? ',
  '<<: ',
  '\t',
  '\\',
  '\u0000',
  '\ufeff',
  'apiVersion: myaas.dev/v1alpha1\n',
  'kind: Database\n',
  'kind: Template\n',
  'metadata:\n  name: alice\n',
  'spec:\n',
  '  template: shop\n',
  '  ttl: 8h\n',
  '  source:\n    path: shop.sql\n',
  '__proto__',
  'name',
  'null',
  '~',
  '.nan',
  '-.inf',
  '0x1F',
  '1e400',
  '2026-12-01T18:00:00Z',
];
const yamlSoup = fc
  .array(fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.string({ maxLength: 6 })), { maxLength: 80 })
  .map((parts) => parts.join(''));

/** Per field, values around its rules: valid forms, edge cases and near misses. */
const FIELD_VALUES: Readonly<Record<string, readonly Json[]>> = {
  'metadata.name': [
    'alice',
    'a',
    'a-1',
    'Alice',
    'a_b',
    '-a',
    'a-',
    'a'.repeat(63),
    'a'.repeat(64),
    '../etc',
    'a/b',
    '',
  ],
  'metadata.labels': [{}, { team: 'a' }, { team: 1 }, { '': '' }, null, 'x', []],
  'metadata.annotations': [{}, { 'myaas.dev/reset': '2026-11-22T09:00:00Z' }, { a: true }, null],
  'spec.template': ['shop', 'test-db', 'Shop', 'shop_1', '', 'a'.repeat(64)],
  'spec.ttl': [
    '8h',
    '30s',
    '15m',
    '7d',
    '45',
    120,
    1,
    '0',
    0,
    '-5',
    -5,
    1.5,
    '8x',
    ' 8h',
    '9007199254740991',
    '9007199254740993d',
    1e300,
  ],
  'spec.expiresAt': [
    '2026-12-01T18:00:00Z',
    '2026-12-01T18:00:00.123+02:00',
    '2026-12-01',
    '2026-13-01T18:00:00Z',
    '9999-12-31T23:59:60Z',
    '1970-01-01T00:00:00Z',
    'tomorrow',
    0,
  ],
  'spec.state': ['Running', 'Stopped', 'running', '', null],
  'spec.port': [1024, 3306, 33061, 65535, 0, 1023, 65536, '3306', 3306.5, -1],
  'spec.protected': [true, false, 'true', 0, null],
  'spec.engine': ['mariadb', 'mysql', 'MariaDB', 'postgres', ''],
  'spec.image': ['mariadb:11.4', 'registry:5000/team/mariadb@sha256:abc', '', 'a b', '-x', 'x'.repeat(256)],
  'spec.source.path': [
    'shop.sql',
    'shop.sql.gz',
    'a/b.sql',
    './x.sql',
    'a//b.sql',
    'a/./b.sql',
    './.sql',
    '././.sql.gz',
    'a/.sql',
    '.x.sql',
    '/etc/shadow.sql',
    '../x.sql',
    'a/../../x.sql',
    'a/../b.sql',
    '..\\x.sql',
    'C:\\x.sql',
    'x.sql/',
    'x.sql/.',
    'shop.csv',
    '.sql',
  ],
  'spec.database': ['default', 'shop_db', 'a$b', '', 'a-b', 'x'.repeat(64), 'x'.repeat(65)],
  'spec.import.timeout': ['2h', 60, '0', 0, 'soon', 1.5],
};
const FIELDS_OF = {
  Database: [
    'metadata.name',
    'metadata.labels',
    'metadata.annotations',
    'spec.template',
    'spec.ttl',
    'spec.expiresAt',
    'spec.state',
    'spec.port',
    'spec.protected',
  ],
  Template: [
    'metadata.name',
    'metadata.labels',
    'metadata.annotations',
    'spec.engine',
    'spec.image',
    'spec.source.path',
    'spec.database',
    'spec.import.timeout',
  ],
} as const;

/** A field value: sometimes right for the schema, often not. */
const fieldValue: fc.Arbitrary<Json> = fc.oneof(
  fc.jsonValue({ maxDepth: 2 }),
  fc.constantFrom(...Object.values(FIELD_VALUES).flat(), ' ', 'x'.repeat(300)),
  fc.integer({ min: -70_000, max: 70_000 }),
  fc.double(),
  fc.boolean(),
);

const name = fc.oneof(
  fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/),
  fc.constantFrom('Alice', 'a_b', '-a', 'a-', 'a'.repeat(63), 'a'.repeat(64), '../etc', 'a/b', '.', ''),
  fieldValue,
);

/** Objects shaped like specs, with every field possibly wrong, missing or extra. */
const specShaped: fc.Arbitrary<Fields> = fc.record(
  {
    apiVersion: fc.oneof(fc.constant(API_VERSION), fc.constant('v1'), fieldValue),
    kind: fc.oneof(fc.constantFrom('Database', 'Template', 'database', 'Pod'), fieldValue),
    metadata: fc.oneof(
      fc.record(
        {
          name,
          namespace: fieldValue,
          labels: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fieldValue), fieldValue),
          annotations: fc.dictionary(fc.string({ maxLength: 8 }), fc.string()),
          extra: fieldValue,
        },
        { requiredKeys: ['name'] },
      ),
      fieldValue,
    ),
    spec: fc.oneof(
      fc.record(
        {
          template: name,
          ttl: fieldValue,
          expiresAt: fieldValue,
          state: fieldValue,
          port: fieldValue,
          protected: fieldValue,
          engine: fieldValue,
          image: fieldValue,
          source: fc.oneof(fc.record({ path: fieldValue }), fieldValue),
          database: fieldValue,
          import: fc.oneof(fc.record({ timeout: fieldValue }), fieldValue),
        },
        { requiredKeys: [] },
      ),
      fieldValue,
    ),
    status: fieldValue,
    extra: fieldValue,
  },
  { requiredKeys: ['apiVersion', 'kind'] },
);

/** The valid objects users start from: the shipped examples and the builders' typical objects. */
function validExamples(): Fields[] {
  const fromFiles = readdirSync(EXAMPLES)
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) =>
      parseAllDocuments(readFileSync(path.join(EXAMPLES, f), 'utf8')).map((d) => d.toJS() as Fields),
    );
  return [
    ...fromFiles,
    templateObject('shop'),
    templateObject('shop', { image: 'mariadb:11.4', database: 'shop_db', import: { timeout: '2h' } }),
    databaseObject('alice', { ttl: '8h' }),
    databaseObject('bob', { expiresAt: '2030-01-01T00:00:00Z', port: 33061, protected: true }),
    databaseObject('carol', { state: 'Stopped' }, { labels: { team: 'a' }, annotations: { note: 'x' } }),
  ];
}
const EXAMPLE_OBJECTS = validExamples();

/** Every path into a JSON value (keys of mappings, indexes of sequences), the root included. */
function pathsOf(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

type Mutation =
  | { op: 'set'; at: number; value: Json }
  | { op: 'delete'; at: number }
  | { op: 'add'; at: number; key: string; value: Json }
  | { op: 'rename'; at: number; key: string };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('set' as const), at: fc.nat(), value: fieldValue }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
  fc.record({
    op: fc.constant('add' as const),
    at: fc.nat(),
    key: fc.oneof(fc.string({ maxLength: 10 }), fc.constantFrom('__proto__', 'constructor', 'ttl')),
    value: fieldValue,
  }),
  fc.record({ op: fc.constant('rename' as const), at: fc.nat(), key: fc.string({ maxLength: 10 }) }),
);

/** Applies mutations to a deep copy; the root stays a mapping. */
function mutate(original: Fields, mutations: Mutation[]): Fields {
  const root = structuredClone(original);
  for (const m of mutations) {
    const paths = pathsOf(root).filter((p) => p.length > 0);
    if (paths.length === 0) break;
    const at = paths[m.at % paths.length]!;
    const parent = at.slice(0, -1).reduce<Json>((v, k) => (v as Record<string, Json>)[k], root) as Record<
      string | number,
      Json
    >;
    const last = at[at.length - 1]!;
    switch (m.op) {
      case 'set':
        parent[last] = structuredClone(m.value);
        break;
      case 'delete':
        if (Array.isArray(parent)) parent.splice(last as number, 1);
        else delete parent[last];
        break;
      case 'add': {
        const target = parent[last];
        if (target && typeof target === 'object' && !Array.isArray(target)) {
          Object.defineProperty(target, m.key, {
            value: structuredClone(m.value),
            enumerable: true,
            writable: true,
            configurable: true,
          });
        } else {
          parent[last] = { [m.key]: structuredClone(m.value) };
        }
        break;
      }
      case 'rename':
        if (!Array.isArray(parent)) {
          const value = parent[last];
          delete parent[last];
          Object.defineProperty(parent, m.key, {
            value,
            enumerable: true,
            writable: true,
            configurable: true,
          });
        }
        break;
    }
  }
  return root;
}

/** Text edits: what an editor, a bad merge or a truncated write does to a file. */
type Edit =
  | { op: 'insert'; at: number; text: string }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicateLine'; at: number }
  | { op: 'swapLines'; a: number; b: number }
  | { op: 'indent'; at: number; by: number }
  | { op: 'truncate'; at: number };

const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    text: fc.oneof(fc.constantFrom(...YAML_TOKENS), fc.string({ maxLength: 5 })),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 20 }) }),
  fc.record({ op: fc.constant('duplicateLine' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('swapLines' as const), a: fc.nat(), b: fc.nat() }),
  fc.record({ op: fc.constant('indent' as const), at: fc.nat(), by: fc.integer({ min: -4, max: 4 }) }),
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
);

function applyEdits(text: string, edits: Edit[]): string {
  let out = text;
  for (const e of edits) {
    const lines = out.split('\n');
    switch (e.op) {
      case 'insert': {
        const at = e.at % (out.length + 1);
        out = out.slice(0, at) + e.text + out.slice(at);
        break;
      }
      case 'delete': {
        const at = e.at % (out.length + 1);
        out = out.slice(0, at) + out.slice(at + e.length);
        break;
      }
      case 'duplicateLine': {
        const at = e.at % lines.length;
        lines.splice(at, 0, lines[at]!);
        out = lines.join('\n');
        break;
      }
      case 'swapLines': {
        const a = e.a % lines.length;
        const b = e.b % lines.length;
        [lines[a], lines[b]] = [lines[b]!, lines[a]!];
        out = lines.join('\n');
        break;
      }
      case 'indent': {
        const at = e.at % lines.length;
        const line = lines[at]!;
        lines[at] = e.by >= 0 ? ' '.repeat(e.by) + line : line.replace(new RegExp(`^ {0,${-e.by}}`), '');
        out = lines.join('\n');
        break;
      }
      case 'truncate':
        out = out.slice(0, e.at % (out.length + 1));
        break;
    }
  }
  return out;
}

/** An accepted object written back as the API writes it (specToCrd), as a CRD object. */
function asCrd(object: SpecObject): Fields {
  const { labels, annotations } = object.metadata;
  return {
    apiVersion: API_VERSION,
    kind: object.kind,
    metadata: {
      name: object.metadata.name,
      ...(Object.keys(labels).length ? { labels } : {}),
      ...(Object.keys(annotations).length ? { annotations } : {}),
    },
    spec: specToCrd(object),
  };
}

/** Sets a dotted field, making the mappings on the way. */
function setField(object: Fields, field: string, value: Json): Fields {
  const keys = field.split('.');
  let at = object;
  for (const key of keys.slice(0, -1)) {
    if (!at[key] || typeof at[key] !== 'object') at[key] = {};
    at = at[key] as Fields;
  }
  at[keys[keys.length - 1]!] = structuredClone(value);
  return object;
}

/** A valid object of either kind with a few fields set to values around their rules. */
const variation = fc
  .record({
    kind: fc.constantFrom('Database', 'Template'),
    overrides: fc.array(fc.record({ field: fc.nat(), value: fc.nat() }), { minLength: 1, maxLength: 3 }),
  })
  .map(({ kind, overrides }) => {
    const object = kind === 'Database' ? databaseObject('alice') : templateObject('shop');
    const fields = FIELDS_OF[kind];
    for (const o of overrides) {
      const field = fields[o.field % fields.length]!;
      const values = FIELD_VALUES[field]!;
      setField(object, field, values[o.value % values.length]);
    }
    return object;
  });

/** Asserts that what the API writes back for an accepted object parses to the same object. */
function expectRoundTrip(result: ParseResult, file: string): void {
  for (const parsed of result.objects) {
    const again = parseText(specFile(asCrd(parsed.object)), file);
    expect(again.problems).toEqual([]);
    expect(again.objects.map((o) => o.object)).toEqual([parsed.object]);
    expect(again.objects[0]!.digest).toBe(parsed.digest);
  }
}

/** A spec position to plant a YAML anchor at, and how to reference it. */
const ANCHOR_PATHS = [
  ['apiVersion'],
  ['kind'],
  ['metadata'],
  ['metadata', 'name'],
  ['metadata', 'labels'],
  ['spec'],
  ['spec', 'template'],
  ['spec', 'ttl'],
  ['spec', 'state'],
  ['spec', 'port'],
  ['spec', 'expiresAt'],
  ['spec', 'source', 'path'],
  ['spec', 'engine'],
  ['spec', 'import', 'timeout'],
  ['extra'],
] as const;

/** `&a <value>` then `*a` k times, or a node that contains itself. */
const anchored = fc.record({
  at: fc.constantFrom(...ANCHOR_PATHS),
  kind: fc.constantFrom('Database', 'Template'),
  shape: fc.constantFrom('references', 'selfSequence', 'selfMapping', 'nested'),
  references: fc.nat({ max: 300 }),
  value: fc.jsonValue({ maxDepth: 2 }),
});

type Anchored = typeof anchored extends fc.Arbitrary<infer T> ? T : never;

function anchoredText(a: Anchored): string {
  const base = structuredClone(a.kind === 'Database' ? EXAMPLE_OBJECTS[0]! : templateObject('shop'));
  let parent = base as Record<string, Json>;
  for (const key of a.at.slice(0, -1)) {
    if (!parent[key] || typeof parent[key] !== 'object') parent[key] = {};
    parent = parent[key] as Record<string, Json>;
  }
  parent[a.at[a.at.length - 1]!] = '__HOLE__';
  const json = JSON.stringify(a.value);
  const hole = {
    references: `[&a ${json}${', *a'.repeat(a.references)}]`,
    selfSequence: '&a [*a]',
    selfMapping: '&a {x: *a}',
    nested: `&a [&b ${json}, [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]${', [*a]'.repeat(Math.min(a.references, 30))}]`,
  }[a.shape];
  return stringify(base).replace('__HOLE__', hole);
}

describe('spec parser under fuzzing: never throws, every problem names the file', () => {
  // Collection keys make yaml emit a process warning per document; thousands would drown the output.
  beforeAll(() => {
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  });
  afterAll(() => {
    vi.restoreAllMocks();
  });

  it('arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), fileName, (bytes, file) => {
        parseBytes(bytes, file);
      }),
      runs(1000),
    );
  });

  it('arbitrary strings, any Unicode and YAML token soup', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 400 }), fc.string({ maxLength: 400 }), yamlSoup),
        fileName,
        (text, file) => {
          parseText(text, file);
        },
      ),
      runs(1500),
    );
  });

  it('YAML and JSON documents of arbitrary JSON-like values', () => {
    fc.assert(
      fc.property(
        fc.array(fc.jsonValue({ maxDepth: 4 }), { minLength: 1, maxLength: 3 }),
        fc.constantFrom('block', 'flow', 'json'),
        fileName,
        (values, style, file) => {
          const text =
            style === 'json'
              ? values.map((v) => JSON.stringify(v)).join('\n---\n')
              : values.map((v) => stringify(v, { collectionStyle: style })).join('---\n');
          parseText(text, file);
        },
      ),
      runs(500),
    );
  });

  it('spec-shaped documents with wrong, missing and extra fields; JSON and YAML agree', () => {
    fc.assert(
      fc.property(fc.array(specShaped, { minLength: 1, maxLength: 3 }), fileName, (docs, file) => {
        const yaml = parseText(docs.map((d) => stringify(d)).join('---\n'), file);
        if (yaml.problems.length === 0) expect(yaml.objects).toHaveLength(docs.length);
        // The same content as JSON documents: the same objects and the same problems, lines aside.
        // Compared on what JSON can carry: it writes NaN and Infinity as null, YAML keeps them.
        const carried = docs.map((d) => JSON.parse(JSON.stringify(d)) as Fields);
        const both = parseText(carried.map((d) => stringify(d)).join('---\n'), file);
        const json = parseText(carried.map((d) => JSON.stringify(d)).join('\n---\n'), file);
        expect(json.objects.map((o) => o.digest)).toEqual(both.objects.map((o) => o.digest));
        const withoutLine = (r: ParseResult) => r.problems.map(({ line: _line, ...p }) => p);
        expect(withoutLine(json)).toEqual(withoutLine(both));
      }),
      runs(1000),
    );
  });

  it('anchors and aliases anywhere in a spec: reference floods and self-references', () => {
    fc.assert(
      fc.property(anchored, fileName, (a, file) => {
        parseText(anchoredText(a), file);
      }),
      runs(500),
    );
  });

  it('structural mutations of valid examples: problems or objects, and accepted objects round-trip', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            example: fc.nat({ max: EXAMPLE_OBJECTS.length - 1 }),
            mutations: fc.array(mutation, { maxLength: 4 }),
          }),
          { minLength: 1, maxLength: 3 },
        ),
        fileName,
        (picks, file) => {
          const docs = picks.map((p) => mutate(EXAMPLE_OBJECTS[p.example]!, p.mutations));
          const result = parseText(specFile(...docs), file);
          // Each document is accepted or said to be wrong: nothing disappears silently.
          if (result.problems.length === 0) expect(result.objects).toHaveLength(docs.length);
          // What the API writes back for an accepted object (reset, GET) means the same object.
          expectRoundTrip(result, file);
        },
      ),
      runs(1000),
    );
  });

  it('field variations of valid objects: accepted or refused, and accepted objects round-trip', () => {
    fc.assert(
      fc.property(variation, fileName, (object, file) => {
        const result = parseText(specFile(object), file);
        expect(result.objects.length + (result.problems.length > 0 ? 1 : 0)).toBe(1);
        expectRoundTrip(result, file);
      }),
      runs(1000),
    );
  });

  it('text edits of valid example files', () => {
    const files = [
      ...readdirSync(EXAMPLES).map((f) => readFileSync(path.join(EXAMPLES, f), 'utf8')),
      specFile(...EXAMPLE_OBJECTS),
    ];
    fc.assert(
      fc.property(
        fc.nat({ max: files.length - 1 }),
        fc.array(edit, { minLength: 1, maxLength: 6 }),
        fileName,
        (which, edits, file) => {
          parseText(applyEdits(files[which]!, edits), file);
        },
      ),
      runs(1000),
    );
  });

  // Counterexamples the properties found: each threw out of parseSpecFile (and crashed `myaas validate`).
  it('regression: an alias to no anchor is a YAML problem', () => {
    for (const text of ['*!', '*\u0000', 'apiVersion: *nope\n']) {
      expect(parseText(text, 'specs/x.yaml').problems.map(formatProblem)).toEqual([
        expect.stringMatching(/^specs\/x\.yaml:1: YAML: Unresolved alias/),
      ]);
    }
  });

  it('regression: an alias flood (billion laughs) is refused, not expanded', () => {
    const text = stringify(databaseObject('alice')).replace(
      `apiVersion: ${API_VERSION}`,
      `apiVersion: [&a ""${', *a'.repeat(100)}]`,
    );
    expect(parseText(text, 'specs/x.yaml').problems.map(formatProblem)).toEqual([
      'specs/x.yaml:1: YAML: Excessive alias count indicates a resource exhaustion attack',
    ]);
  });

  it('regression: a value that contains itself is described, not serialised', () => {
    const database = 'apiVersion: myaas.dev/v1alpha1\nkind: Database\nmetadata: {name: a}\n';
    const cases: [string, string][] = [
      [
        'apiVersion: &a [*a]\nkind: Database\n',
        'apiVersion: expected myaas.dev/v1alpha1, got a self-referencing array',
      ],
      [
        'apiVersion: myaas.dev/v1alpha1\nkind: &a {x: *a}\n',
        'kind: a self-referencing object is not allowed; allowed: Template, Database',
      ],
      [
        `${database}spec: {template: shop, ttl: &a [*a]}\n`,
        'Database/a: spec.ttl: a self-referencing array is not valid',
      ],
      [
        `${database}spec: {template: shop, state: &a [*a]}\n`,
        'Database/a: spec.state: a self-referencing array is not allowed',
      ],
      [
        'apiVersion: myaas.dev/v1alpha1\nkind: Template\nmetadata: {name: a}\nspec: {source: {path: a.sql}, import: {timeout: &a [*a]}}\n',
        'Template/a: spec.import.timeout: a self-referencing array is not valid',
      ],
    ];
    for (const [text, message] of cases) {
      const problems = parseText(text, 'specs/x.yaml').problems.map(formatProblem);
      for (const problem of problems) expect(problem).toMatch(/^specs\/x\.yaml:\d+: /);
      expect(problems.filter((p) => p.includes(message))).toHaveLength(1);
    }
  });

  it('regression: a dump path that normalises to no file name is refused, not stored as `.sql`', () => {
    const text = specFile(templateObject('shop', { source: { path: './.sql' } }));
    expect(parseText(text, 'specs/x.yaml').problems.map(formatProblem)).toEqual([
      'specs/x.yaml:8: Template/shop: spec.source.path: `./.sql` is `.sql`, which names no dump; give a file name ending in .sql, .sql.gz or .dump, e.g. shop.sql.gz',
    ]);
    // Paths that normalise to a real name still work, normalised.
    const ok = parseText(specFile(templateObject('shop', { source: { path: './a//b/./.x.sql' } })), 'f');
    expect(ok.objects[0]!.object.spec).toMatchObject({ source: { path: 'a/b/.x.sql' } });
  });

  it('files over the size limit are refused unread, naming the file', () => {
    const result = parseBytes(new Uint8Array(MAX_SPEC_FILE_BYTES + 1), 'specs/huge.yaml');
    expect(result.objects).toEqual([]);
    expect(result.problems.map(formatProblem)).toEqual([
      `specs/huge.yaml: file is ${MAX_SPEC_FILE_BYTES + 1} bytes; spec files are limited to ${MAX_SPEC_FILE_BYTES}`,
    ]);
  });
});
