import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments, parse as parseYaml, stringify } from 'yaml';

/**
 * A renderer for the small subset of Helm's template language the myaas chart (deploy/helm/myaas/)
 * is written in, so the chart can be rendered in tests on machines where no `helm` binary can be
 * installed. It is NOT helm: it implements this subset with Go text/template's semantics, and refuses
 * everything else (an unknown function, field, keyword or syntax is an error, never passed through), so
 * a chart it renders uses nothing a real helm would read differently.
 *
 * The subset:
 * - text, and actions `{{ ... }}` with Go's trim markers: `{{- ` removes the whitespace (newlines
 *   included) before the action, ` -}}` the whitespace after it;
 * - fields: `.Values.a.b...` (a missing key is an error here, where helm would print nothing),
 *   `.Release.Name`, `.Release.Namespace`, `.Chart.Name`, `.Chart.Version`, `.Chart.AppVersion`;
 * - literals: "double-quoted strings" (no escapes) and integers;
 * - `{{ if PIPELINE }}`, `{{ else }}`, `{{ end }}` (no `else if`, `range`, `with`, `define`, ...);
 * - functions, called Go-style (`fn arg arg`, parentheses to nest) or in a pipeline (`x | fn arg`,
 *   which is `fn arg x`): `eq`, `ne` (two arguments), `gt` (two integers), `not`, `int`, `quote`,
 *   `toYaml` (sorted keys, trailing newline trimmed, as helm's), `nindent N`;
 * - truthiness as Go's: false, 0, "", nil, an empty map or list are false.
 * Plain output of a map or list is an error (Go would print `map[...]`): use `toYaml`.
 */

export interface RenderContext {
  readonly Values: Record<string, unknown>;
  readonly Release: { readonly Name: string; readonly Namespace: string };
  readonly Chart: { readonly Name: string; readonly Version: string; readonly AppVersion: string };
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'output'; expr: string }
  | { kind: 'if'; cond: string; yes: Node[]; no: Node[] };

const ACTION = /\{\{(-\s)?\s*([\s\S]*?)\s*(\s-)?\}\}/g;

interface Token {
  readonly action?: string;
  readonly text?: string;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  let last = 0;
  for (const match of source.matchAll(ACTION)) {
    let before = source.slice(last, match.index);
    if (match[1]) before = before.replace(/\s+$/, '');
    tokens.push({ text: before });
    tokens.push({ action: match[2] });
    last = (match.index ?? 0) + match[0].length;
    if (match[3]) {
      const rest = source.slice(last);
      last += rest.length - rest.replace(/^\s+/, '').length;
    }
  }
  tokens.push({ text: source.slice(last) });
  for (const token of tokens) {
    if (token.text?.includes('{{') || token.text?.includes('}}')) {
      throw new Error(`unsupported template syntax near: ${token.text.slice(0, 60)}`);
    }
  }
  return tokens;
}

function parse(tokens: Token[]): Node[] {
  let i = 0;
  const block = (inIf: boolean): { nodes: Node[]; end: 'end' | 'else' | 'eof' } => {
    const nodes: Node[] = [];
    while (i < tokens.length) {
      const token = tokens[i++] as Token;
      if (token.text !== undefined) {
        if (token.text) nodes.push({ kind: 'text', text: token.text });
        continue;
      }
      const action = token.action ?? '';
      if (action.startsWith('/*')) throw new Error('comments are not in the subset');
      if (action === 'end' || action === 'else') {
        if (!inIf) throw new Error(`{{ ${action} }} without {{ if }}`);
        return { nodes, end: action };
      }
      const keyword = /^(if|else|range|with|define|template|block|include|end|break|continue)\b/.exec(action);
      if (keyword && keyword[1] !== 'if') throw new Error(`unsupported action: {{ ${action} }}`);
      if (keyword) {
        const cond = action.slice(2).trim();
        const then = block(true);
        let otherwise: Node[] = [];
        if (then.end === 'else') {
          const rest = block(true);
          if (rest.end !== 'end') throw new Error('{{ if }} without {{ end }}');
          otherwise = rest.nodes;
        } else if (then.end !== 'end') throw new Error('{{ if }} without {{ end }}');
        nodes.push({ kind: 'if', cond, yes: then.nodes, no: otherwise });
        continue;
      }
      if (/^\$|:=|(^|\s)=(\s|$)/.test(action))
        throw new Error(`variables are not in the subset: {{ ${action} }}`);
      nodes.push({ kind: 'output', expr: action });
    }
    if (inIf) throw new Error('{{ if }} without {{ end }}');
    return { nodes, end: 'eof' };
  };
  return block(false).nodes;
}

type Expr =
  | { kind: 'field'; path: string[] }
  | { kind: 'string'; value: string }
  | { kind: 'int'; value: number }
  | { kind: 'call'; fn: string; args: Expr[] };

const FUNCTIONS = new Set(['eq', 'ne', 'gt', 'not', 'int', 'quote', 'toYaml', 'nindent']);
const ROOTS: Record<string, (p: string[]) => boolean> = {
  Values: (p) => p.length >= 1,
  Release: (p) => p.length === 1 && ['Name', 'Namespace'].includes(p[0] ?? ''),
  Chart: (p) => p.length === 1 && ['Name', 'Version', 'AppVersion'].includes(p[0] ?? ''),
};

function lex(source: string): string[] {
  const words: string[] = [];
  const re = /\s*("[^"\\]*"|\(|\)|\||[^\s()|"]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: a lexer loop
  while ((m = re.exec(source))) {
    words.push(m[1] as string);
    at = re.lastIndex;
  }
  if (source.slice(at).trim()) throw new Error(`cannot read: ${source}`);
  return words;
}

function parseExpr(source: string): Expr {
  const words = lex(source);
  let i = 0;
  const term = (): Expr => {
    const word = words[i++];
    if (word === undefined) throw new Error(`incomplete: ${source}`);
    if (word === '(') {
      const inner = pipeline();
      if (words[i++] !== ')') throw new Error(`unbalanced parentheses: ${source}`);
      return inner;
    }
    if (word.startsWith('"')) return { kind: 'string', value: word.slice(1, -1) };
    if (/^-?\d+$/.test(word)) return { kind: 'int', value: Number(word) };
    if (word.startsWith('.')) {
      const [root = '', ...rest] = word.slice(1).split('.');
      if (!ROOTS[root]?.(rest) || rest.some((p) => !/^[A-Za-z_][A-Za-z0-9_]*$/.test(p))) {
        throw new Error(`unsupported field: ${word}`);
      }
      return { kind: 'field', path: [root, ...rest] };
    }
    throw new Error(`unsupported word: ${word} (in ${source})`);
  };
  const command = (): Expr => {
    const word = words[i];
    if (word && /^[A-Za-z]\w*$/.test(word)) {
      if (!FUNCTIONS.has(word)) throw new Error(`unsupported function: ${word}`);
      i++;
      const args: Expr[] = [];
      while (i < words.length && words[i] !== '|' && words[i] !== ')') args.push(term());
      return { kind: 'call', fn: word, args };
    }
    return term();
  };
  const pipeline = (): Expr => {
    let expr = command();
    while (words[i] === '|') {
      i++;
      const next = command();
      if (next.kind !== 'call') throw new Error(`a pipeline stage must be a function: ${source}`);
      expr = { kind: 'call', fn: next.fn, args: [...next.args, expr] };
    }
    return expr;
  };
  const expr = pipeline();
  if (i !== words.length) throw new Error(`cannot read: ${source}`);
  return expr;
}

const truthy = (v: unknown): boolean => {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
};

const arity = (fn: string, args: unknown[], n: number) => {
  if (args.length !== n) throw new Error(`${fn} takes ${n} argument(s), got ${args.length}`);
};

function evaluate(expr: Expr, context: RenderContext): unknown {
  switch (expr.kind) {
    case 'string':
    case 'int':
      return expr.value;
    case 'field': {
      let value: unknown = context;
      for (const [index, key] of expr.path.entries()) {
        if (value === null || typeof value !== 'object' || !(key in value)) {
          throw new Error(`no value at .${expr.path.slice(0, index + 1).join('.')}`);
        }
        value = (value as Record<string, unknown>)[key];
      }
      return value;
    }
    case 'call': {
      const args = expr.args.map((a) => evaluate(a, context));
      switch (expr.fn) {
        case 'eq':
        case 'ne': {
          arity(expr.fn, args, 2);
          const [a, b] = args;
          if (typeof a !== typeof b || (typeof a === 'object' && a !== null)) {
            throw new Error(`${expr.fn}: incompatible types for comparison`);
          }
          return expr.fn === 'eq' ? a === b : a !== b;
        }
        case 'gt': {
          arity('gt', args, 2);
          if (!args.every((a) => Number.isInteger(a))) throw new Error('gt: integers only (use int)');
          return (args[0] as number) > (args[1] as number);
        }
        case 'not':
          arity('not', args, 1);
          return !truthy(args[0]);
        case 'int': {
          arity('int', args, 1);
          const n = Number(args[0] ?? 0);
          if (Number.isNaN(n)) return 0; // sprig's toInt of a non-number
          return Math.trunc(n);
        }
        case 'quote':
          arity('quote', args, 1);
          return JSON.stringify(args[0] === undefined || args[0] === null ? '' : String(args[0]));
        case 'toYaml': {
          arity('toYaml', args, 1);
          return stringify(args[0], { sortMapEntries: true }).replace(/\n$/, '');
        }
        case 'nindent': {
          arity('nindent', args, 2);
          const [n, text] = args;
          if (!Number.isInteger(n) || typeof text !== 'string') throw new Error('nindent N TEXT');
          const pad = ' '.repeat(n as number);
          return `\n${text
            .split('\n')
            .map((line) => pad + line)
            .join('\n')}`;
        }
      }
      throw new Error(`unsupported function: ${expr.fn}`);
    }
  }
}

function print(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'object') throw new Error('printing a map or list: use toYaml');
  return String(value);
}

function run(nodes: Node[], context: RenderContext): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') out += node.text;
    else if (node.kind === 'output') out += print(evaluate(parseExpr(node.expr), context));
    else out += run(truthy(evaluate(parseExpr(node.cond), context)) ? node.yes : node.no, context);
  }
  return out;
}

/** Renders one template's text; throws on anything outside the subset. */
export function renderTemplate(source: string, context: RenderContext): string {
  return run(parse(tokenize(source)), context);
}

/** Deep merge as helm does for `--set`/`-f` over the chart's values (maps merge, the rest replaces). */
export function mergeValues(base: unknown, override: unknown): unknown {
  if (
    base &&
    override &&
    typeof base === 'object' &&
    typeof override === 'object' &&
    !Array.isArray(base) &&
    !Array.isArray(override)
  ) {
    const out: Record<string, unknown> = { ...(base as Record<string, unknown>) };
    for (const [key, value] of Object.entries(override)) out[key] = mergeValues(out[key], value);
    return out;
  }
  return override === undefined ? base : override;
}

export interface RenderedChart {
  /** The chart's crds/ files, as helm installs them: not templated. */
  readonly crds: Record<string, unknown>[];
  /** Every document of every rendered template, empty ones dropped (as helm does). */
  readonly manifests: Record<string, unknown>[];
}

/** Renders a chart folder as `helm template NAME CHART -n NAMESPACE -f overrides` would (within the subset). */
export function renderChart(
  chartDir: string,
  release: { name: string; namespace: string },
  overrides: Record<string, unknown> = {},
): RenderedChart {
  const chart = parseYaml(readFileSync(path.join(chartDir, 'Chart.yaml'), 'utf8'));
  const values = mergeValues(parseYaml(readFileSync(path.join(chartDir, 'values.yaml'), 'utf8')), overrides);
  const context: RenderContext = {
    Values: values as Record<string, unknown>,
    Release: { Name: release.name, Namespace: release.namespace },
    Chart: { Name: chart.name, Version: chart.version, AppVersion: chart.appVersion },
  };
  const docs = (text: string, file: string) =>
    parseAllDocuments(text).flatMap((doc) => {
      if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]?.message}`);
      const value = doc.toJS();
      return value === null || value === undefined ? [] : [value as Record<string, unknown>];
    });
  const yamlFiles = (dir: string) =>
    readdirSync(dir)
      .filter((f) => /\.ya?ml$/.test(f))
      .sort();
  const crdsDir = path.join(chartDir, 'crds');
  const templatesDir = path.join(chartDir, 'templates');
  return {
    crds: yamlFiles(crdsDir).flatMap((f) => docs(readFileSync(path.join(crdsDir, f), 'utf8'), f)),
    manifests: yamlFiles(templatesDir).flatMap((f) =>
      docs(renderTemplate(readFileSync(path.join(templatesDir, f), 'utf8'), context), f),
    ),
  };
}
