import { badRequest } from './status.js';

/**
 * Label and field selectors as list and watch take them (`labelSelector=app=db,tier!=web,env in (a,b)`,
 * `fieldSelector=metadata.name=x`): the grammar of k8s.io/apimachinery/pkg/labels and /fields.
 */

type Requirement =
  | { op: '=' | '!='; key: string; value: string }
  | { op: 'in' | 'notin'; key: string; values: string[] }
  | { op: 'exists' | '!exists'; key: string };

export type Selector = (labels: Readonly<Record<string, string>>) => boolean;

/** Splits on commas outside parentheses. */
function clauses(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      out.push(text.slice(start, i));
      start = i + 1;
    }
  }
  out.push(text.slice(start));
  return out.map((c) => c.trim()).filter((c) => c !== '');
}

function requirement(clause: string): Requirement {
  let m = /^([^\s!=()]+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(clause);
  if (m) return { op: m[2] as 'in' | 'notin', key: m[1]!, values: m[3]!.split(',').map((v) => v.trim()) };
  m = /^([^\s!=()]+)\s*(==|=|!=)\s*([^\s,()]*)$/.exec(clause);
  if (m) return { op: m[2] === '!=' ? '!=' : '=', key: m[1]!, value: m[3]! };
  m = /^(!?)([^\s!=()]+)$/.exec(clause);
  if (m) return { op: m[1] ? '!exists' : 'exists', key: m[2]! };
  throw badRequest(`unable to parse requirement: ${JSON.stringify(clause)}`);
}

function matches(r: Requirement, labels: Readonly<Record<string, string>>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = labels[r.key];
  switch (r.op) {
    case '=':
      return has && value === r.value;
    case '!=':
      return !has || value !== r.value;
    case 'in':
      return has && r.values.includes(value!);
    case 'notin':
      return !has || !r.values.includes(value!);
    case 'exists':
      return has;
    case '!exists':
      return !has;
  }
}

export function parseLabelSelector(text: string | null): Selector {
  if (!text) return () => true;
  const requirements = clauses(text).map(requirement);
  return (labels) => requirements.every((r) => matches(r, labels));
}

/** The fields each kind may be selected by: metadata.name and metadata.namespace everywhere, plus a few. */
const FIELDS_BY_KIND: Record<string, string[]> = {
  Pod: ['spec.nodeName', 'status.phase'],
  Secret: ['type'],
};

function fieldValue(object: Record<string, unknown>, path: string): string {
  let node: unknown = object;
  for (const part of path.split('.')) node = (node as Record<string, unknown> | undefined)?.[part];
  return node === undefined || node === null ? '' : String(node);
}

export function parseFieldSelector(
  text: string | null,
  kind: string,
): (object: Record<string, unknown>) => boolean {
  if (!text) return () => true;
  const allowed = ['metadata.name', 'metadata.namespace', ...(FIELDS_BY_KIND[kind] ?? [])];
  const requirements = clauses(text).map((clause) => {
    const m = /^([^\s!=]+)\s*(==|=|!=)\s*(.*)$/.exec(clause);
    if (!m) throw badRequest(`invalid selector: '${text}'; can't understand '${clause}'`);
    if (!allowed.includes(m[1]!)) throw badRequest(`field label not supported: ${m[1]}`);
    return { field: m[1]!, negate: m[2] === '!=', value: m[3]! };
  });
  return (object) => requirements.every((r) => (fieldValue(object, r.field) === r.value) !== r.negate);
}
