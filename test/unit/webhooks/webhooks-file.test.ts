import { describe, expect, it } from 'vitest';
import { WEBHOOK_EVENTS } from '../../../controller/webhooks/webhook-events.js';
import { WebhooksFileError, parseWebhooks } from '../../../controller/webhooks/webhooks-file.js';

const FILE = '/etc/myaas/webhooks.yaml';
const SECRET = 'abcdefghijklmnop-0123';
const noFile = async (p: string): Promise<string> => {
  throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
};
const parse = (text: string, env: NodeJS.ProcessEnv = {}, readSecret = noFile) =>
  parseWebhooks(text, FILE, env, readSecret);

/** The refusal's problems as `file:line: key: field: message` lines. */
async function refusal(text: string, env: NodeJS.ProcessEnv = {}): Promise<string[]> {
  const error = await parse(text, env).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WebhooksFileError);
  expect((error as Error).message).toMatch(/the controller does not start/);
  return (error as Error).message
    .split('\n')
    .slice(1)
    .map((l) => l.trim());
}

describe('the webhooks file', () => {
  it('reads endpoints with a secret given inline, from a file or from the environment; * means every event', async () => {
    const endpoints = await parse(
      `- name: ci
  url: https://ci.example.com/hooks
  secret: ${SECRET}
  events: [database.ready, template.import_failed]
- name: chat
  url: http://127.0.0.1:9000/x
  secretFile: /run/secrets/hook
  events: ["*"]
  timeout: 3s
  retryFor: 2m
- name: audit
  url: http://audit.local/
  secretEnv: AUDIT_SECRET
  events: [deletion.held]
`,
      { AUDIT_SECRET: 'from-the-environment-1' },
      async (p) => (p === '/run/secrets/hook' ? 'from-a-file-0123456789' : noFile(p)),
    );
    expect(endpoints.map((e) => [e.name, e.secret, [...e.events], e.timeoutMs, e.retryForMs])).toEqual([
      ['ci', SECRET, ['database.ready', 'template.import_failed'], 10_000, 600_000],
      ['chat', 'from-a-file-0123456789', [...WEBHOOK_EVENTS], 3_000, 120_000],
      ['audit', 'from-the-environment-1', ['deletion.held'], 10_000, 600_000],
    ]);
  });

  it('names the file, the line, the endpoint, the field and the fix for each problem, all at once', async () => {
    const lines = await refusal(`- name: ci
  url: ftp://ci.example.com
  secret: ${SECRET}
  events: [database.redy]
- name: other
  url: http://x.local/
  secret: ${SECRET}
  events: [database.ready]
  retries: 3
`);
    expect(lines).toEqual([
      `${FILE}:2: ci: [0].url: \`ftp://ci.example.com\` is not valid: an http:// or https:// URL, e.g. https://ci.example.com/hooks/myaas`,
      `${FILE}:4: ci: [0].events[0]: \`database.redy\` is not allowed; allowed: *, ${WEBHOOK_EVENTS.join(', ')}`,
      `${FILE}:9: other: [1].retries: unknown field; allowed fields here: name, url, secret, secretFile, secretEnv, events, timeout, retryFor`,
    ]);
  });

  it('refuses an endpoint without a secret, with two, with a short one, or with an unset variable or unreadable file', async () => {
    const base = (extra: string, name = 'ci') =>
      `- name: ${name}\n  url: http://x.local/\n  events: [database.ready]\n${extra}`;
    expect(await refusal(base(''))).toEqual([
      `${FILE}:1: ci: [0].secret: is required: give one of secret, secretFile or secretEnv (\`openssl rand -hex 32\` makes a secret)`,
    ]);
    expect(await refusal(base(`  secret: ${SECRET}\n  secretEnv: HOOK\n`))).toEqual([
      `${FILE}:5: ci: [0].secretEnv: give one of secret, secretFile or secretEnv, not secret and secretEnv`,
    ]);
    expect(await refusal(base('  secret: short\n'))).toEqual([
      `${FILE}:4: ci: [0].secret: the secret is 5 characters; at least 16 are needed (\`openssl rand -hex 32\` makes one)`,
    ]);
    expect(await refusal(base('  secretEnv: HOOK_SECRET\n'))).toEqual([
      `${FILE}:4: ci: [0].secretEnv: HOOK_SECRET is not set (or empty) in the controller's environment: export it`,
    ]);
    expect(await refusal(base('  secretFile: /nope\n'))).toEqual([
      `${FILE}:4: ci: [0].secretFile: /nope cannot be read (ENOENT): fix the path or its permissions`,
    ]);
  });

  it('refuses a name listed twice, a bad duration, an empty file, a mapping and broken YAML', async () => {
    const one = (name: string, extra = '') =>
      `- name: ${name}\n  url: http://x.local/\n  secret: ${SECRET}\n  events: ["*"]\n${extra}`;
    expect(await refusal(one('ci') + one('ci'))).toEqual([
      `${FILE}:5: ci: [1].name: ci is listed twice: give each endpoint its own name`,
    ]);
    expect(await refusal(one('ci', '  retryFor: 10 minutes\n'))).toEqual([
      `${FILE}:5: ci: [0].retryFor: "10 minutes" is not a number of seconds or 30s, 15m, 8h, 7d`,
    ]);
    expect(await refusal('')).toEqual([
      `${FILE}: the file is empty: list the endpoints (README "Webhooks"), or leave out --webhooks`,
    ]);
    expect(await refusal('webhooks:\n  - name: ci\n')).toEqual([
      `${FILE}:1: expected array, got object: expected a list of endpoints, each \`- {name, url, secret, events}\` (README "Webhooks")`,
    ]);
    const [yaml] = await refusal('- name: ci\n  url: [\n');
    expect(yaml).toMatch(new RegExp(`^${FILE}:\\d+: YAML: `));
  });
});
