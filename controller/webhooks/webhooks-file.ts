import { readFile } from 'node:fs/promises';
import { type Document, LineCounter, parseDocument } from 'yaml';
import { DURATION_HELP, parseDuration } from '../spec/duration.js';
import { lineOfPath } from '../spec/parse.js';
import { type SpecProblem, formatProblem } from '../spec/problems.js';
import { compileValidator } from '../spec/schema.js';
import { WEBHOOK_EVENTS, type WebhookEventType } from './webhook-events.js';

/** One endpoint as the controller uses it: the secret read, the durations in ms. */
export interface WebhookEndpoint {
  readonly name: string;
  readonly url: string;
  readonly secret: string;
  readonly events: ReadonlySet<WebhookEventType>;
  /** One attempt's limit, ms. @default 10000 */
  readonly timeoutMs: number;
  /** How long after its first attempt a failing delivery is still retried, ms. @default 600000 */
  readonly retryForMs: number;
}

export const DEFAULT_TIMEOUT_SECONDS = 10;
export const DEFAULT_RETRY_FOR_SECONDS = 600;
/** Shorter secrets are refused: an HMAC key a guess can find signs anything. */
export const MIN_SECRET_LENGTH = 16;

/** A webhooks file the controller will not start with: every problem, each naming file, line, field and fix. */
export class WebhooksFileError extends Error {
  readonly problems: readonly SpecProblem[];
  constructor(problems: readonly SpecProblem[]) {
    super(
      `webhooks file refused, the controller does not start (fix it, or leave out --webhooks):\n${problems.map((p) => `  ${formatProblem(p)}`).join('\n')}`,
    );
    this.problems = problems;
  }
}

const DURATION_FIELD = { type: ['string', 'integer'], description: DURATION_HELP };

/** The file's format: one source of truth for what is allowed and for the fix each problem names. */
const SCHEMA = {
  type: 'array',
  description: 'expected a list of endpoints, each `- {name, url, secret, events}` (README "Webhooks")',
  items: {
    type: 'object',
    description: 'expected an endpoint {name, url, secret, events}',
    required: ['name', 'url', 'events'],
    properties: {
      name: {
        type: 'string',
        pattern: '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$',
        maxLength: 63,
        description: 'a name for logs and metrics: lower-case letters, digits and -, e.g. ci',
      },
      url: {
        type: 'string',
        pattern: '^https?://',
        description: 'an http:// or https:// URL, e.g. https://ci.example.com/hooks/myaas',
      },
      secret: {
        type: 'string',
        description: `the signing secret, at least ${MIN_SECRET_LENGTH} characters (\`openssl rand -hex 32\` makes one)`,
      },
      secretFile: { type: 'string', minLength: 1, description: 'a file holding the signing secret' },
      secretEnv: {
        type: 'string',
        pattern: '^[A-Za-z_][A-Za-z0-9_]*$',
        description: 'the environment variable holding the signing secret, e.g. MYAAS_WEBHOOK_SECRET',
      },
      events: {
        type: 'array',
        minItems: 1,
        description: `the events to send: * for all, or some of ${WEBHOOK_EVENTS.join(', ')}`,
        items: { enum: ['*', ...WEBHOOK_EVENTS] },
      },
      timeout: DURATION_FIELD,
      retryFor: DURATION_FIELD,
    },
  },
};

const validate = compileValidator(SCHEMA);

interface RawEndpoint {
  name: string;
  url: string;
  secret?: string;
  secretFile?: string;
  secretEnv?: string;
  events: string[];
  timeout?: string | number;
  retryFor?: string | number;
}

/**
 * Reads and checks the webhooks file (`--webhooks`). Any problem refuses the whole file: a controller
 * that silently dropped an endpoint would leave its receiver waiting for events that never come.
 */
export async function loadWebhooksFile(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<WebhookEndpoint[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new WebhooksFileError([
      {
        file,
        message: `cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): fix its path (--webhooks) or its permissions`,
      },
    ]);
  }
  return parseWebhooks(text, file, env, readSecretFile);
}

async function readSecretFile(path: string): Promise<string> {
  return (await readFile(path, 'utf8')).split('\n')[0]!.trim();
}

/** Parses the file's text; `readSecret` reads a `secretFile` (a fake in unit tests). */
export async function parseWebhooks(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv,
  readSecret: (path: string) => Promise<string>,
): Promise<WebhookEndpoint[]> {
  const lineCounter = new LineCounter();
  const doc: Document.Parsed = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const lineAt = (offset: number | undefined) =>
    offset === undefined ? undefined : lineCounter.linePos(offset).line;
  if (doc.errors.length > 0)
    throw new WebhooksFileError(
      doc.errors.map((e) => ({ file, line: lineAt(e.pos[0]), message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (error) {
    throw new WebhooksFileError([{ file, message: `YAML: ${(error as Error).message.split('\n')[0]}` }]);
  }
  // An empty file is a mistake here: a flag that names a file means "send webhooks".
  if (value === null || value === undefined)
    throw new WebhooksFileError([
      { file, message: 'the file is empty: list the endpoints (README "Webhooks"), or leave out --webhooks' },
    ]);
  const problems: SpecProblem[] = [];
  const problem = (fieldPath: readonly (string | number)[], message: string, key?: string) => {
    const line = lineOfPath(doc, lineCounter, fieldPath);
    problems.push({
      file,
      ...(line !== undefined ? { line } : {}),
      ...(key ? { key } : {}),
      ...(fieldPath.length > 0 ? { field: fieldName(fieldPath) } : {}),
      message,
    });
  };
  const nameAt = (index: string | undefined) => {
    const entry = Array.isArray(value) && index !== undefined ? (value[Number(index)] as unknown) : undefined;
    const name = entry && typeof entry === 'object' ? (entry as { name?: unknown }).name : undefined;
    return typeof name === 'string' ? name : undefined;
  };
  for (const p of validate(value)) problem(p.path, p.message, nameAt(p.path[0]));
  if (problems.length > 0) throw new WebhooksFileError(problems);

  const endpoints: WebhookEndpoint[] = [];
  const names = new Set<string>();
  for (const [i, raw] of (value as RawEndpoint[]).entries()) {
    const at = (field: string) => [i, field];
    if (names.has(raw.name))
      problem(at('name'), `${raw.name} is listed twice: give each endpoint its own name`, raw.name);
    names.add(raw.name);
    try {
      new URL(raw.url);
    } catch {
      problem(
        at('url'),
        `${JSON.stringify(raw.url)} is not a URL, e.g. https://ci.example.com/hooks/myaas`,
        raw.name,
      );
    }
    const secret = await secretOf(raw, env, readSecret, (field, message) =>
      problem(at(field), message, raw.name),
    );
    const seconds = (field: 'timeout' | 'retryFor', fallback: number) => {
      const given = raw[field];
      if (given === undefined) return fallback;
      const parsed = parseDuration(given);
      if (parsed === undefined)
        problem(at(field), `${JSON.stringify(given)} is not ${DURATION_HELP}`, raw.name);
      return parsed ?? fallback;
    };
    const timeoutSeconds = seconds('timeout', DEFAULT_TIMEOUT_SECONDS);
    const retryForSeconds = seconds('retryFor', DEFAULT_RETRY_FOR_SECONDS);
    if (secret === undefined) continue;
    endpoints.push({
      name: raw.name,
      url: raw.url,
      secret,
      events: new Set(raw.events.includes('*') ? WEBHOOK_EVENTS : (raw.events as WebhookEventType[])),
      timeoutMs: timeoutSeconds * 1000,
      retryForMs: retryForSeconds * 1000,
    });
  }
  if (problems.length > 0) throw new WebhooksFileError(problems);
  return endpoints;
}

/** The secret from exactly one of secret, secretFile and secretEnv; undefined (with a problem) otherwise. */
async function secretOf(
  raw: RawEndpoint,
  env: NodeJS.ProcessEnv,
  readSecret: (path: string) => Promise<string>,
  problem: (field: string, message: string) => void,
): Promise<string | undefined> {
  const given = (['secret', 'secretFile', 'secretEnv'] as const).filter((f) => raw[f] !== undefined);
  if (given.length !== 1) {
    problem(
      given[1] ?? 'secret',
      given.length === 0
        ? 'is required: give one of secret, secretFile or secretEnv (`openssl rand -hex 32` makes a secret)'
        : `give one of secret, secretFile or secretEnv, not ${given.join(' and ')}`,
    );
    return undefined;
  }
  let secret: string;
  if (raw.secretEnv !== undefined) {
    secret = env[raw.secretEnv] ?? '';
    if (!secret) {
      problem(
        'secretEnv',
        `${raw.secretEnv} is not set (or empty) in the controller's environment: export it`,
      );
      return undefined;
    }
  } else if (raw.secretFile !== undefined) {
    try {
      secret = await readSecret(raw.secretFile);
    } catch (error) {
      problem(
        'secretFile',
        `${raw.secretFile} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): fix the path or its permissions`,
      );
      return undefined;
    }
  } else {
    secret = raw.secret ?? '';
  }
  if (secret.length < MIN_SECRET_LENGTH) {
    problem(
      given[0]!,
      `the secret is ${secret.length} characters; at least ${MIN_SECRET_LENGTH} are needed (\`openssl rand -hex 32\` makes one)`,
    );
    return undefined;
  }
  return secret;
}

/** `[0].secretEnv`: an endpoint's place in the list, then its field. */
function fieldName(fieldPath: readonly (string | number)[]): string {
  return fieldPath
    .map((segment) => (/^\d+$/.test(String(segment)) ? `[${segment}]` : `.${segment}`))
    .join('')
    .replace(/^\./, '');
}
