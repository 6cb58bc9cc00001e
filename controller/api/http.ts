import type { IncomingMessage, ServerResponse } from 'node:http';

/** Request bodies above this are refused (413): specs and forms are small. */
export const MAX_BODY_BYTES = 64 * 1024;
/** JSON bodies nested deeper are refused (400): specs nest a few levels, and deeper ones overflow the stack. */
export const MAX_BODY_DEPTH = 32;

export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
  ) {
    super(
      typeof body === 'object' && body && 'status' in body
        ? String((body as { status: unknown }).status)
        : String(body),
    );
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendEmpty(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** Reads a bounded body: JSON, or a urlencoded form (the original clients post `ttl` as a form field). */
export async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES)
      throw new HttpError(413, { status: `Request body over ${MAX_BODY_BYTES} bytes` });
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return {};
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text));
  if (type === 'multipart/form-data') return parseMultipart(text, req.headers['content-type'] ?? '');
  try {
    const value = JSON.parse(text) as unknown;
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      throw new HttpError(400, { status: 'Expected a JSON object as the request body' });
    }
    if (deeperThan(value, MAX_BODY_DEPTH)) {
      throw new HttpError(400, { status: `JSON body nested deeper than ${MAX_BODY_DEPTH} levels` });
    }
    return value as Record<string, unknown>;
  } catch (error) {
    if (error instanceof HttpError) throw error;
    throw new HttpError(400, { status: `Malformed JSON body: ${(error as Error).message}` });
  }
}

/** Whether a parsed JSON value nests deeper than `limit` (iterative: the value may be very deep). */
function deeperThan(value: unknown, limit: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [item, depth] = stack.pop()!;
    if (item === null || typeof item !== 'object') continue;
    if (depth > limit) return true;
    for (const child of Object.values(item)) stack.push([child, depth + 1]);
  }
  return false;
}

/** Enough of multipart/form-data for simple text fields (`curl -F ttl=3600`). */
function parseMultipart(text: string, contentType: string): Record<string, string> {
  const boundary = /boundary=("?)([^";]+)\1/.exec(contentType)?.[2];
  if (!boundary) throw new HttpError(400, { status: 'multipart body without a boundary' });
  const out: Record<string, string> = {};
  for (const part of text.split(`--${boundary}`)) {
    const match = /name="([^"]+)"\r?\n(?:[^\r\n]+\r?\n)*\r?\n([\s\S]*?)\r?\n?$/.exec(
      part.replace(/^\r?\n/, ''),
    );
    if (match) out[match[1]!] = match[2]!;
  }
  return out;
}
