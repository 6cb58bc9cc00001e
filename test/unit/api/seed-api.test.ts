import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { HttpError, MAX_BODY_BYTES, readBody } from '../../../controller/api/http.js';
import { canonicalName } from '../../../controller/api/objects.js';
import { implicitTemplateName } from '../../../controller/source/dumps-folder.js';

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
    expect(implicitTemplateName('test_db.sql')).toBe('test-db');
    expect(implicitTemplateName('Shop.sql.gz')).toBe('shop');
    expect(implicitTemplateName('notes.txt')).toBeUndefined();
  });
});
