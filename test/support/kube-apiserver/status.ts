/**
 * Errors as the API server words them: a `Status` object (meta/v1) with the HTTP code, a machine reason
 * and, for invalid objects, causes naming each field (api-conventions.md, "Response Status Kind").
 */

export interface StatusCause {
  readonly reason: string;
  readonly message: string;
  readonly field: string;
}

export interface StatusDetails {
  readonly name?: string;
  readonly group?: string;
  readonly kind?: string;
  readonly causes?: StatusCause[];
}

export interface Status {
  readonly kind: 'Status';
  readonly apiVersion: 'v1';
  readonly metadata: Record<string, never>;
  readonly status: 'Failure' | 'Success';
  readonly message: string;
  readonly reason: string;
  readonly details?: StatusDetails;
  readonly code: number;
}

/** Thrown by handlers; the router turns it into its Status response. */
export class ApiError extends Error {
  constructor(readonly status: Status) {
    super(status.message);
  }
}

function failure(code: number, reason: string, message: string, details?: StatusDetails): ApiError {
  return new ApiError({
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  });
}

/** `databases.myaas.dev` / `secrets`: how the server names a resource in messages. */
export interface Named {
  readonly resource: string;
  readonly group: string;
  readonly kind: string;
}
const qualified = (r: Named) => (r.group ? `${r.resource}.${r.group}` : r.resource);

export const notFound = (r: Named, name: string) =>
  failure(404, 'NotFound', `${qualified(r)} "${name}" not found`, { name, group: r.group, kind: r.resource });

export const alreadyExists = (r: Named, name: string) =>
  failure(409, 'AlreadyExists', `${qualified(r)} "${name}" already exists`, {
    name,
    group: r.group,
    kind: r.resource,
  });

/** api-conventions.md "Concurrency Control and Consistency": a stale resourceVersion is a 409 Conflict. */
export const conflict = (r: Named, name: string) =>
  failure(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(r)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: r.group, kind: r.resource },
  );

/** api-conventions.md "410 StatusGone": the resourceVersion asked for is no longer retained. */
export const gone = (message: string) => failure(410, 'Expired', message);

export const invalid = (r: Named, name: string, causes: StatusCause[]) => {
  const list = causes.map((c) => `${c.field}: ${c.message}`);
  const what = list.length === 1 ? list[0] : `[${list.join(', ')}]`;
  return failure(
    422,
    'Invalid',
    `${r.kind}.${r.group || ''}`.replace(/\.$/, '') + ` "${name}" is invalid: ${what}`,
    {
      name,
      group: r.group,
      kind: r.kind,
      causes,
    },
  );
};

export const badRequest = (message: string) => failure(400, 'BadRequest', message);
export const methodNotAllowed = (message: string) => failure(405, 'MethodNotAllowed', message);
export const unsupportedMediaType = (type: string) =>
  failure(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json; got ${type}`,
  );
export const unavailable = () =>
  failure(503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
export const pathNotFound = (path: string) =>
  failure(404, 'NotFound', `the server could not find the requested resource (${path})`);

export function success(details?: StatusDetails): Status {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Success',
    message: '',
    reason: '',
    ...(details ? { details } : {}),
    code: 200,
  };
}
