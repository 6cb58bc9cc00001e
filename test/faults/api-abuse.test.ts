import { randomBytes } from 'node:crypto';
import { type Dirent, existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { type IncomingHttpHeaders, request } from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, createApi } from '../../controller/api/api-server.js';
import { MAX_BODY_BYTES, MAX_BODY_DEPTH } from '../../controller/api/http.js';
import { createLogger } from '../../controller/log.js';
import { API_VERSION } from '../../controller/objects/index.js';
import { MARIADB } from '../support/flavors.js';
import { PROCESS_COPY, TestBed } from '../support/testbed.js';
import { sleep, waitFor } from '../support/wait.js';

/**
 * Hostile and clumsy clients against a real controller's API (host mariadbd, plain copies): bad
 * bodies, huge bodies, path traversal, bad tokens, and a stampede on one name. Each case checks the
 * end state on disk and in the controller, not only the status codes.
 */

const TOKEN = `abuse-${randomBytes(8).toString('hex')}`;
/** In every name a traversal attempt uses: any file named after one is found by this. */
const MARKER = `pwn${randomBytes(3).toString('hex')}`;

interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** Request body bytes the client got onto the socket before the answer or the close. */
  sent: number;
  ms: number;
}

describe('API abuse against a real controller (process + copy)', () => {
  const bed = new TestBed('api-abuse', { pair: PROCESS_COPY });
  const apiLog: string[] = [];
  let api: ApiServer;
  let port: number;

  /**
   * One request on its own connection, the path sent byte for byte (no client-side normalisation of
   * `..` or escapes, unlike fetch). A body may be a stream; the answer counts even when the server
   * closes the connection before the client finished sending.
   */
  const send = (
    method: string,
    rawPath: string,
    options: { token?: string | null; headers?: Record<string, string>; body?: string | Readable } = {},
  ): Promise<Answer> =>
    new Promise((resolve, reject) => {
      const started = Date.now();
      const token = options.token === undefined ? TOKEN : options.token;
      const headers: Record<string, string> = {
        ...(token === null ? {} : { authorization: `Bearer ${token}` }),
        ...(typeof options.body === 'string'
          ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(options.body)) }
          : {}),
        ...options.headers,
      };
      const req = request({ host: '127.0.0.1', port, method, path: rawPath, headers, agent: false });
      let answered = false;
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            sent: req.socket?.bytesWritten ?? 0,
            ms: Date.now() - started,
          }),
        );
        res.on('error', reject);
      });
      // The server may close while we still send (a refused body): only an error without an answer counts.
      req.on('error', (error) => {
        if (!answered) reject(error);
      });
      if (options.body instanceof Readable) {
        options.body.on('error', () => undefined);
        options.body.pipe(req);
      } else {
        req.end(options.body);
      }
    });
  const json = (answer: Answer) => JSON.parse(answer.text) as Record<string, unknown>;

  /** Every file under `dir` (relative path, size, mtime), symlinks included, sorted. */
  const tree = (dir: string): string[] => {
    if (!existsSync(dir)) return [];
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => !e.isDirectory())
      .map((e) => {
        const full = path.join(e.parentPath, e.name);
        const s = statSync(full, { throwIfNoEntry: false });
        return `${path.relative(dir, full)} ${s?.size ?? '-'} ${s?.mtimeMs ?? '-'}`;
      })
      .sort();
  };
  /** Files anywhere a traversal could have put one that carry the marker in their name. */
  const markerFiles = (): string[] => {
    const found: string[] = [];
    const walk = (dir: string, deep: boolean) => {
      let entries: Dirent[];
      try {
        entries = readdirSync(dir, { withFileTypes: true });
      } catch {
        return; // gone meanwhile (a server's temp files), or not ours to read
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        if (e.name.includes(MARKER)) found.push(full);
        if (deep && e.isDirectory()) walk(full, true);
      }
    };
    walk(bed.dir, true);
    for (const place of [path.dirname(bed.dir), '/tmp', '/var/tmp', '/etc', '/']) walk(place, false);
    return found;
  };
  const managedDir = () => path.join(bed.specsDir, 'api-managed');
  const managedFiles = () => (existsSync(managedDir()) ? readdirSync(managedDir()).sort() : []);
  const declared = (kind: 'Database' | 'Template', name: string) =>
    bed.running!.desired.get(`${kind}/${name}`);

  beforeAll(async () => {
    bed.declareShop();
    const running = await bed.start();
    const log = createLogger({ level: 'debug', stream: { write: (line: string) => void apiLog.push(line) } });
    api = createApi(running, log, TOKEN);
    port = await api.listen('127.0.0.1:0');
    await bed.waitForTemplate('shop', (s) => s.phase === 'Ready' && Boolean(s.currentVersion), 'Ready');
  });
  afterEach(() => {
    // Whatever a client sends, the API answers it as the client's fault or its own success, never a crash.
    const failures = apiLog.splice(0).filter((line) => line.includes('API handler failed'));
    expect(failures).toEqual([]);
    expect(markerFiles()).toEqual([]);
  });
  afterAll(async () => {
    await api?.close();
    await bed.destroy();
  });

  it('refuses malformed and hostile JSON bodies with 400 and a clear message, writing nothing', async () => {
    const before = tree(bed.specsDir);
    const cases: [string, string | RegExp][] = [
      ['{not json', /^Malformed JSON body: /],
      ['{"metadata": {"name": "mal"}, "spec": ', /^Malformed JSON body: /],
      ['{"metadata": {"name": "mal"}}}', /^Malformed JSON body: /],
      ['{"a": 1}{"b": 2}', /^Malformed JSON body: /],
      ["{'metadata': {'name': 'mal'}}", /^Malformed JSON body: /],
      ['\ufeff{"metadata": {"name": "mal"}}', /^Malformed JSON body: /],
      ['\u0000', /^Malformed JSON body: /],
      ['[1, 2]', 'Expected a JSON object as the request body'],
      ['null', 'Expected a JSON object as the request body'],
      ['"mal"', 'Expected a JSON object as the request body'],
      ['42', 'Expected a JSON object as the request body'],
    ];
    for (const [body, message] of cases) {
      for (const target of ['/api/v1/databases/mal', '/api/v1/templates/mal']) {
        const answer = await send('PUT', target, { body });
        expect(answer.status, `${target} ${JSON.stringify(body)}`).toBe(400);
        expect(answer.headers['content-type']).toBe('application/json');
        expect(json(answer).status).toMatch(message);
      }
    }
    // Well-formed JSON that is no object of that kind: 400 naming what is wrong.
    const invalid: [unknown, string][] = [
      [{}, 'metadata: is required'],
      [{ metadata: { name: 'mal' }, spec: 'x' }, 'spec: expected object, got string'],
      [{ metadata: { name: 'mal' }, spec: { template: 'shop', ttl: 'soon' } }, 'spec.ttl'],
      [
        { metadata: { name: 'mal' }, spec: { template: 'shop' }, apiVersion: 'v1' },
        'expected myaas.dev/v1alpha1',
      ],
      [
        { metadata: { name: 'mal' }, spec: { template: 'shop', __proto__x: 1 } },
        'spec.__proto__x: unknown field',
      ],
      [
        JSON.parse('{"metadata": {"name": "mal"}, "spec": {"template": "shop"}, "__proto__": {"x": 1}}'),
        '__proto__',
      ],
    ];
    for (const [object, problem] of invalid) {
      const answer = await send('PUT', '/api/v1/databases/mal', { body: JSON.stringify(object) });
      expect(answer.status, JSON.stringify(object)).toBe(400);
      const body = json(answer) as { status: string; problems?: string[] };
      expect(body.status).toBe('Invalid object');
      expect(
        body.problems?.some((p) => p.startsWith('request body (Database/mal)') && p.includes(problem)),
      ).toBe(true);
    }
    // The body names another object than the path: refused, the path's object is not made.
    const other = await send('PUT', '/api/v1/databases/mal', {
      body: JSON.stringify({
        kind: 'Template',
        metadata: { name: 'mal' },
        spec: { source: { path: 'shop.sql' } },
      }),
    });
    expect(other.status).toBe(400);
    expect(json(other).status).toBe('The body is Template/mal, the path Database/mal');
    // The seed route reads JSON the same way.
    const seed = await send('POST', '/db/shop/mal', { body: '{"ttl": ' });
    expect(seed.status).toBe(400);
    expect(json(seed).status).toMatch(/^Malformed JSON body: /);

    expect(tree(bed.specsDir)).toEqual(before);
    expect(existsSync(managedDir()) ? managedFiles() : []).toEqual([]);
    expect(declared('Database', 'mal')).toBeUndefined();
    expect(declared('Template', 'mal')).toBeUndefined();
  });

  it('refuses deeply nested JSON as the client fault (400), on both APIs', async () => {
    const before = tree(bed.specsDir);
    const deep = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
    for (const depth of [200, 5_000, 30_000]) {
      const native = await send('PUT', '/api/v1/databases/deep', {
        body: `{"metadata": {"name": "deep"}, "spec": {"template": "shop", "ttl": ${deep(depth)}}}`,
      });
      expect(native.status, `native depth ${depth}`).toBe(400);
      expect(json(native).status).toBe(`JSON body nested deeper than ${MAX_BODY_DEPTH} levels`);
      const seed = await send('POST', '/db/shop/deep', { body: `{"ttl": ${deep(depth)}}` });
      expect(seed.status, `seed depth ${depth}`).toBe(400);
      expect(json(seed).status).toBe(`JSON body nested deeper than ${MAX_BODY_DEPTH} levels`);
    }
    // Nesting a spec really uses (labels) is far from the limit: such a body is judged on its content.
    const labelled = await send('PUT', '/api/v1/databases/deep', {
      body: JSON.stringify({
        metadata: { name: 'deep', labels: { team: ['a'] } },
        spec: { template: 'shop' },
      }),
    });
    expect(labelled.status).toBe(400);
    expect(labelled.text).toContain('metadata.labels.team: expected a string');
    expect(tree(bed.specsDir)).toEqual(before);
    expect(declared('Database', 'deep')).toBeUndefined();
  });

  it('refuses a 50 MB body quickly without reading it, and keeps answering', async () => {
    const before = tree(bed.specsDir);
    const SIZE = 50 * 1024 * 1024;
    const chunk = Buffer.alloc(1024 * 1024, 'x');
    /** 50 MB from one reused 1 MiB buffer, so that only the server could hold the whole body. */
    const body = () =>
      Readable.from(
        (function* () {
          for (let sent = 0; sent < SIZE; sent += chunk.length) yield chunk;
        })(),
      );
    for (const [method, target, framing] of [
      [
        'PUT',
        '/api/v1/databases/huge',
        { 'content-length': String(SIZE), 'content-type': 'application/json' },
      ],
      ['POST', '/db/shop/huge', { 'transfer-encoding': 'chunked', 'content-type': 'application/json' }],
      ['PUT', '/api/v1/templates/huge', { 'transfer-encoding': 'chunked' }],
    ] as const) {
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => {
        rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      }, 10);
      const answer = await send(method, target, { body: body(), headers: framing }).finally(() =>
        clearInterval(sampler),
      );
      expect(answer.status, `${method} ${target}`).toBe(413);
      expect(json(answer).status).toBe(`Request body over ${MAX_BODY_BYTES} bytes`);
      expect(answer.headers.connection).toBe('close');
      expect(answer.ms).toBeLessThan(5_000);
      // The server stopped reading: most of the body never left the client.
      expect(answer.sent).toBeLessThan(SIZE / 4);
      // Nor was it buffered anywhere in this process (client and server share it).
      expect(rssPeak - rssBefore).toBeLessThan(SIZE / 2);
    }
    // Still answering, on fresh connections, with and without auth.
    expect((await send('GET', '/healthz', { token: null })).status).toBe(200);
    const list = await send('GET', '/api/v1/templates');
    expect(list.status).toBe(200);
    expect((json(list).items as { metadata: { name: string } }[]).map((t) => t.metadata.name)).toEqual([
      'shop',
    ]);
    expect(tree(bed.specsDir)).toEqual(before);
    expect(declared('Database', 'huge')).toBeUndefined();
  });

  it('refuses path traversal in names on seed and native routes, writing nothing anywhere', async () => {
    const before = tree(bed.specsDir);
    const names = [
      `../${MARKER}`,
      `../../../${MARKER}`,
      `..%2F..%2F${MARKER}`,
      `..%2f..%2f..%2f${MARKER}`,
      `%2e%2e%2F%2e%2e%2F${MARKER}`,
      `..%252F..%252F${MARKER}`,
      `..%5C..%5C${MARKER}`,
      `%2Ftmp%2F${MARKER}`,
      `%2Fvar%2Ftmp%2F${MARKER}`,
      `%2F%2F${MARKER}`,
      `${MARKER}.yaml`,
      `.${MARKER}`,
      `${MARKER}..`,
      `a.${MARKER}`,
      `${MARKER}%00`,
      `${MARKER}%0A`,
      `${'a'.repeat(300)}${MARKER}`,
      '..',
      '.',
      '%2e%2e',
      '...',
    ];
    // Bare dot segments are resolved by the URL parser, as by any web server: `GET /db/shop/..` is
    // `GET /db`, the list. They are tried with every method that writes.
    const dotSegments = new Set(['..', '.', '%2e%2e']);
    const attempts: [string, string][] = [];
    for (const name of names) {
      if (!dotSegments.has(name))
        attempts.push(['GET', `/db/shop/${name}`], ['GET', `/api/v1/databases/${name}`]);
      attempts.push(
        ['POST', `/db/shop/${name}`],
        ['POST', `/db/shop/${name}?wait=false`],
        ['DELETE', `/db/shop/${name}`],
        ['POST', `/db/${name}/${MARKER}`],
        ['PUT', `/api/v1/databases/${name}`],
        ['PUT', `/api/v1/templates/${name}`],
        ['DELETE', `/api/v1/databases/${name}`],
        ['DELETE', `/api/v1/templates/${name}`],
        ['POST', `/api/v1/databases/${name}/reset`],
        ['POST', `/api/v1/templates/${name}/reimport`],
      );
    }
    const body = JSON.stringify({
      ttl: 60,
      metadata: { name: MARKER },
      spec: { template: 'shop', source: { path: 'shop.sql' } },
    });
    for (const [method, target] of attempts) {
      const answer = await send(method, target, { body });
      expect(answer.status, `${method} ${target}`).toBeGreaterThanOrEqual(400);
      expect(answer.status, `${method} ${target}`).toBeLessThan(500);
    }
    // Valid names in the path, traversal inside the body: the body's name and the dump path are checked too.
    const inBody: [string, unknown, string][] = [
      [
        '/api/v1/databases/ok-name',
        { metadata: { name: `../${MARKER}` }, spec: { template: 'shop' } },
        'metadata.name',
      ],
      [
        '/api/v1/templates/ok-name',
        { metadata: { name: 'ok-name' }, spec: { source: { path: `../../${MARKER}.sql` } } },
        'leaves the dumps dir',
      ],
      [
        '/api/v1/templates/ok-name',
        { metadata: { name: 'ok-name' }, spec: { source: { path: `/etc/${MARKER}.sql` } } },
        'spec.source.path',
      ],
      [
        '/api/v1/templates/ok-name',
        { metadata: { name: 'ok-name' }, spec: { source: { path: `a\\..\\..\\${MARKER}.sql` } } },
        'leaves the dumps dir',
      ],
      [
        '/api/v1/databases/ok-name',
        { metadata: { name: 'ok-name' }, spec: { template: `../${MARKER}` } },
        'spec.template',
      ],
    ];
    for (const [target, object, problem] of inBody) {
      const answer = await send('PUT', target, { body: JSON.stringify(object) });
      expect(answer.status, JSON.stringify(object)).toBe(400);
      expect(answer.text).toContain(problem);
    }
    expect(tree(bed.specsDir)).toEqual(before);
    expect(managedFiles()).toEqual([]);
    expect(declared('Database', 'ok-name')).toBeUndefined();
    expect(declared('Template', 'ok-name')).toBeUndefined();
    expect(bed.running!.desired.list('Database')).toEqual([]);
    expect(bed.running!.desired.list('Template').map((r) => r.key)).toEqual(['Template/shop']);
  });

  it('answers 401 to a missing or wrong token on every guarded route, and changes nothing', async () => {
    // A database to try to delete, reset or read without the token.
    const put = await send('PUT', '/api/v1/databases/keeper', {
      body: JSON.stringify({ metadata: { name: 'keeper' }, spec: { template: 'shop', ttl: '1h' } }),
    });
    expect(put.status).toBe(201);
    const keeper = await bed.waitForDatabase('keeper', 'Ready');
    const password = keeper.record.user.password;
    const version = bed.template('shop')!.status.currentVersion;
    const before = tree(bed.specsDir);
    const servers = (await bed.serversOf('keeper')).map((s) => s.id);
    expect(servers).toHaveLength(1);

    const wrong: { token?: string | null; headers?: Record<string, string> }[] = [
      { token: null },
      { token: 'wrong' },
      { token: '' },
      { token: `${TOKEN}x` },
      { token: TOKEN.slice(0, -1) },
      { token: TOKEN.toUpperCase() },
      { token: null, headers: { authorization: TOKEN } },
      // Basic auth carries the token as its password (issue 14): a wrong one, or the token as the user name.
      {
        token: null,
        headers: { authorization: `Basic ${Buffer.from(`myaas:${TOKEN}x`).toString('base64')}` },
      },
      {
        token: null,
        headers: { authorization: `Basic ${Buffer.from(`${TOKEN}:`).toString('base64')}` },
      },
      { token: null, headers: { authorization: `Token ${TOKEN}` } },
      { token: null, headers: { 'x-api-token': TOKEN } },
    ];
    const guarded: [string, string, string?][] = [
      ['GET', '/'],
      ['GET', '/templates'],
      ['GET', '/db'],
      ['GET', '/db/shop/keeper'],
      ['POST', '/db/shop/intruder', '{"ttl": 60}'],
      ['DELETE', '/db/shop/keeper'],
      ['GET', '/metrics'],
      ['GET', '/api/v1/databases'],
      ['GET', '/api/v1/databases/keeper'],
      [
        'PUT',
        '/api/v1/databases/intruder',
        JSON.stringify({ metadata: { name: 'intruder' }, spec: { template: 'shop' } }),
      ],
      [
        'PUT',
        '/api/v1/databases/keeper',
        JSON.stringify({ metadata: { name: 'keeper' }, spec: { template: 'shop', state: 'Stopped' } }),
      ],
      ['DELETE', '/api/v1/databases/keeper'],
      ['DELETE', '/api/v1/templates/shop'],
      ['POST', '/api/v1/databases/keeper/reset'],
      ['POST', '/api/v1/templates/shop/reimport'],
      ['POST', '/api/v1/deletions/confirm'],
      ['GET', '/api/v1/problems'],
      ['GET', '/api/v1/events'],
    ];
    for (const auth of wrong) {
      for (const [method, target, body] of guarded) {
        const answer = await send(method, target, { ...auth, ...(body ? { body } : {}) });
        const what = `${method} ${target} with ${JSON.stringify(auth)}`;
        expect(answer.status, what).toBe(401);
        // Bearer first; basic auth is offered too, for the original service's clients.
        expect(answer.headers['www-authenticate'], what).toBe('Bearer, Basic realm="myaas"');
        expect(json(answer), what).toEqual({
          status: expect.stringMatching(/^Unauthorized: send your token as Authorization: Bearer <token>/),
        });
        expect(answer.text).not.toContain(password);
      }
    }
    // The probes stay open.
    expect((await send('GET', '/healthz', { token: 'wrong' })).status).toBe(200);
    expect((await send('GET', '/readyz', { token: null })).status).toBe(200);

    // Nothing changed: the files (content and mtime: no reset, no reimport touch), the desired state,
    // the keeper's server and data, the template's version.
    await sleep(500);
    expect(tree(bed.specsDir)).toEqual(before);
    expect(declared('Database', 'intruder')).toBeUndefined();
    expect(bed.database('intruder')).toBeUndefined();
    expect(bed.database('keeper')?.status.phase).toBe('Ready');
    expect(bed.database('keeper')?.record.resetToken ?? '').toBe(keeper.record.resetToken ?? '');
    expect((await bed.serversOf('keeper')).map((s) => s.id)).toEqual(servers);
    expect(await bed.query('keeper', 'select count(*) as n from products')).toEqual([{ n: 3 }]);
    expect(bed.template('shop')!.status.currentVersion).toBe(version);

    // With the token the same delete works: the refusals above were about the token alone.
    expect((await send('DELETE', '/api/v1/databases/keeper')).status).toBe(204);
    await waitFor('keeper gone', async () => (await bed.serversOf('keeper')).length === 0, 30_000, 100);
  });

  it('200 concurrent seed POSTs for one name: one 201 with a working database, 199 x 304', async () => {
    const attempts = await Promise.all(
      Array.from({ length: 200 }, () => send('POST', '/db/shop/stampede', { body: '{"ttl": 600}' })),
    );
    const codes = attempts.map((a) => a.status);
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 304)).toHaveLength(199);
    for (const a of attempts.filter((x) => x.status === 304)) expect(a.text).toBe('');
    const created = json(attempts.find((a) => a.status === 201)!);
    expect(created).toMatchObject({ name: 'stampede', running: true, user: 'myaas' });

    // Exactly one spec, no temp files left, one declared database, one server, and it serves the data.
    expect(managedFiles().filter((f) => f.includes('stampede') || f.startsWith('.tmp-'))).toEqual([
      'database-stampede.yaml',
    ]);
    expect(readFileSync(path.join(managedDir(), 'database-stampede.yaml'), 'utf8')).toContain('ttl: 600');
    expect(bed.running!.desired.list('Database').map((r) => r.key)).toContain('Database/stampede');
    const ready = await bed.waitForDatabase('stampede', 'Ready');
    expect(created.password).toBe(ready.record.user.password);
    expect(created.port).toBe(String(ready.status.connection!.port));
    expect(await bed.serversOf('stampede')).toHaveLength(1);
    expect(await MARIADB.queryAs(created, 'select count(*) as n from products')).toEqual([{ n: 3 }]);
    // Still one after a resync period: no late duplicate.
    await sleep((bed.config.resyncSeconds + 1) * 1000);
    expect(await bed.serversOf('stampede')).toHaveLength(1);
    expect(bed.database('stampede')!.record.user.password).toBe(created.password);
  });

  it('200 concurrent native PUTs of one object: idempotent, one 201, one file, one database', async () => {
    const object = {
      apiVersion: API_VERSION,
      kind: 'Database',
      metadata: { name: 'stampede-native' },
      spec: { template: 'shop', ttl: '1h' },
    };
    const attempts = await Promise.all(
      Array.from({ length: 200 }, () =>
        send('PUT', '/api/v1/databases/stampede-native', { body: JSON.stringify(object) }),
      ),
    );
    // PUT is create-or-replace: every writer gets the object, and exactly one is told it created it
    // (a client may take 201 as "mine to delete when done").
    const codes = attempts.map((a) => a.status);
    expect(codes.filter((c) => c === 201)).toHaveLength(1);
    expect(codes.filter((c) => c === 200)).toHaveLength(199);
    for (const a of attempts) {
      expect(json(a)).toEqual({
        ...object,
        // The API records who made it (the single MYAAS_API_TOKEN is the admin).
        metadata: { ...object.metadata, annotations: { 'myaas.dev/owner': 'admin' } },
        source: { file: path.join('api-managed', 'database-stampede-native.yaml'), line: 1 },
      });
    }
    expect(managedFiles().filter((f) => f.includes('stampede-native') || f.startsWith('.tmp-'))).toEqual([
      'database-stampede-native.yaml',
    ]);
    await bed.waitForDatabase('stampede-native', 'Ready');
    expect(await bed.serversOf('stampede-native')).toHaveLength(1);
    const status = await send('GET', '/api/v1/databases/stampede-native');
    expect(json(status)).toMatchObject({ spec: { template: 'shop', ttl: '1h' }, status: { phase: 'Ready' } });
    await sleep((bed.config.resyncSeconds + 1) * 1000);
    expect(await bed.serversOf('stampede-native')).toHaveLength(1);
    expect(await bed.query('stampede-native', 'select count(*) as n from products')).toEqual([{ n: 3 }]);
  });
});
