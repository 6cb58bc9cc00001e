import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { ApiState } from '../../../controller/api/api-state.js';
import { HttpError, MAX_BODY_BYTES, readBody } from '../../../controller/api/http.js';
import { canonicalName } from '../../../controller/api/objects.js';
import type { ApiContext } from '../../../controller/api/routes.js';
import { parseTtl, seedDatabaseName } from '../../../controller/api/seed-api.js';
import type { SpecObject } from '../../../controller/objects/index.js';
import { implicitTemplateName } from '../../../controller/source/dumps-folder.js';
import { FakeDesired } from '../../support/fakes.js';

const request = (body: string, contentType?: string) =>
  Object.assign(Readable.from([Buffer.from(body)]), {
    headers: contentType ? { 'content-type': contentType } : {},
  }) as unknown as IncomingMessage;

describe('request bodies', () => {
  it('reads JSON, urlencoded and multipart forms', async () => {
    expect(await readBody(request('{"ttl": 3600}', 'application/json'))).toEqual({ ttl: 3600 });
    expect(await readBody(request('ttl=120&x=1', 'application/x-www-form-urlencoded'))).toEqual({
      ttl: '120',
      x: '1',
    });
    const multipart = '--b\r\nContent-Disposition: form-data; name="ttl"\r\n\r\n60\r\n--b--\r\n';
    expect(await readBody(request(multipart, 'multipart/form-data; boundary=b'))).toEqual({ ttl: '60' });
    expect(await readBody(request(''))).toEqual({});
  });
  it('refuses malformed JSON, non-objects and oversized bodies with the right status', async () => {
    await expect(readBody(request('{nope', 'application/json'))).rejects.toMatchObject({ status: 400 });
    await expect(readBody(request('[1,2]', 'application/json'))).rejects.toMatchObject({ status: 400 });
    await expect(readBody(request('x'.repeat(MAX_BODY_BYTES + 1)))).rejects.toBeInstanceOf(HttpError);
    await expect(readBody(request('x'.repeat(MAX_BODY_BYTES + 1)))).rejects.toMatchObject({ status: 413 });
  });
});

describe('seed names', () => {
  it('maps the original underscore names to DNS labels', () => {
    expect(canonicalName('test_db')).toBe('test-db');
    expect(seedDatabaseName('test_db')).toBe('test-db');
    expect(implicitTemplateName('test_db.sql')).toBe('test-db');
    expect(implicitTemplateName('Shop.sql.gz')).toBe('shop');
    expect(implicitTemplateName('notes.txt')).toBeUndefined();
  });
});

describe('what the original POST takes', () => {
  it('refuses a name that is not a DNS label instead of rewriting it', () => {
    expect(() => seedDatabaseName('MyDB')).toThrow(/Invalid database name "MyDB".*did you mean "mydb"/);
    expect(() => seedDatabaseName('MyDB')).toThrow(HttpError);
    expect(() => seedDatabaseName('a.b')).toThrow(/Invalid database name "a.b": lower-case letters/);
    expect(seedDatabaseName('mydb')).toBe('mydb');
  });
  it('takes a ttl as seconds or as specs write it', () => {
    expect(parseTtl('3600')).toBe(3600);
    expect(parseTtl(3600)).toBe(3600);
    expect(parseTtl('1h')).toBe(3600);
    expect(parseTtl('15m')).toBe(900);
    expect(parseTtl(undefined)).toBeUndefined();
    expect(() => parseTtl('soon')).toThrow(
      /Invalid ttl "soon": give a number of seconds or 30s, 15m, 8h, 7d/,
    );
    expect(() => parseTtl('0')).toThrow(HttpError);
  });
});

describe('which template the original routes mean', () => {
  const template = (name: string, dump: string, annotations: Record<string, string> = {}): SpecObject => ({
    kind: 'Template',
    metadata: { name, labels: {}, annotations },
    spec: { engine: 'mariadb', source: { path: dump }, import: {} },
  });
  const database = (name: string, of: string): SpecObject => ({
    kind: 'Database',
    metadata: { name, labels: {}, annotations: {} },
    spec: { template: of, state: 'Running', protected: false },
  });
  const desired = new FakeDesired();
  // shop2 took test_db.sql over from the implicit template test-db, which is gone; x was made from it.
  desired.set(template('shop2', 'test_db.sql'));
  desired.set(template('shop', 'shop.sql'));
  desired.set(template('orders', 'dumps/orders.sql'));
  const x = desired.set(database('x', 'test-db'));
  const y = desired.set(database('y', 'shop2'));
  const z = desired.set(database('z', 'shop'));
  const state = new ApiState({ running: { desired } } as unknown as ApiContext);
  const found = (name: string) => state.findTemplate(name)?.object.metadata.name;

  it('finds a template by name, seed name, canonical name, then by the dump that name comes from', () => {
    expect(found('shop')).toBe('shop');
    expect(found('test_db')).toBe('shop2');
    expect(found('test-db')).toBe('shop2');
    expect(found('orders')).toBe('orders');
    // Lookups of a template by its dump's name follow the dump names' lower-casing.
    expect(found('Test_DB')).toBe('shop2');
    expect(found('nope')).toBeUndefined();
    // A template of that very name wins over one made of a dump of that name.
    desired.set(template('test-db', 'other.sql'));
    expect(found('test_db')).toBe('test-db');
    desired.delete('Template/test-db');
  });

  it('a database belongs to the template name it was made with, whether or not that template is still there', () => {
    expect(state.belongsTo(x, 'test_db')).toBe(true);
    expect(state.belongsTo(x, 'test-db')).toBe(true);
    expect(state.belongsTo(x, 'shop2')).toBe(false);
    expect(state.belongsTo(y, 'shop2')).toBe(true);
    expect(state.belongsTo(y, 'test_db')).toBe(true);
    expect(state.belongsTo(z, 'shop')).toBe(true);
    expect(state.belongsTo(z, 'test_db')).toBe(false);
    expect(state.belongsTo(z, 'nope')).toBe(false);
  });
});
