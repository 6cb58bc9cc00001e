import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, prettyLogs } from '../../../controller/log.js';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { lines, stream };
}

describe('logs', () => {
  it('are readable lines in a terminal, JSON otherwise (MYAAS_LOG_FORMAT decides when set)', () => {
    expect(prettyLogs(true, undefined)).toBe(true);
    expect(prettyLogs(false, undefined)).toBe(false);
    expect(prettyLogs(true, 'json')).toBe(false);
    expect(prettyLogs(false, 'pretty')).toBe(true);
  });

  it('pretty: a level word and the message on one line, no JSON', () => {
    const { lines, stream } = capture();
    createLogger({ pretty: true, stream: stream as never }).info({ port: 5001 }, 'API listening');
    const text = lines.join('');
    expect(text).toMatch(/INFO.*API listening/);
    expect(text).toContain('port: 5001');
    expect(() => JSON.parse(text)).toThrow();
  });

  it('JSON: one object per line', () => {
    const { lines, stream } = capture();
    createLogger({ pretty: false, stream: stream as never }).info({ port: 5001 }, 'API listening');
    expect(JSON.parse(lines.join(''))).toMatchObject({ msg: 'API listening', port: 5001, app: 'myaas' });
  });
});
