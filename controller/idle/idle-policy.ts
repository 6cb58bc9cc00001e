import {
  type DatabaseSpec,
  IDLE_ACTIONS,
  type IdleAction,
  type IdlePolicy,
  type TemplateSpec,
} from '../objects/index.js';
import { DURATION_HELP, formatDuration, parseDuration } from '../spec/duration.js';

/** A field problem of an idle policy: the path under the policy (`after`) and what is allowed. */
export interface IdlePolicyProblem {
  readonly path: string[];
  readonly message: string;
}

/**
 * The policy a spec's `idle:` mapping (already checked against the CRD schema) asks for: `after` as
 * a duration, `action` Stop by default (why else give `after`); Keep alone needs no `after`.
 */
export function readIdlePolicy(raw: unknown): { policy?: IdlePolicy; problems: IdlePolicyProblem[] } {
  const { after, action } = (raw ?? {}) as { after?: unknown; action?: IdleAction };
  const chosen: IdleAction = action ?? 'Stop';
  if (after === undefined) {
    if (chosen === 'Keep') return { policy: { action: 'Keep' }, problems: [] };
    return {
      problems: [
        {
          path: ['after'],
          message: `is required for action ${chosen}: how long without a client session, ${DURATION_HELP} (e.g. after: 30m)`,
        },
      ],
    };
  }
  const afterSeconds = parseDuration(after);
  if (afterSeconds === undefined)
    return {
      problems: [{ path: ['after'], message: `${JSON.stringify(after)} is not valid: ${DURATION_HELP}` }],
    };
  return { policy: { afterSeconds, action: chosen }, problems: [] };
}

/** The policy in force for a database, and where it comes from: its own spec, else its template's default. */
export interface EffectiveIdlePolicy {
  readonly afterSeconds: number;
  readonly action: Exclude<IdleAction, 'Keep'>;
  readonly from: 'Database' | 'Template';
}

/**
 * What the idle watch acts on: the database's own `idle`, else its template's `databaseDefaults.idle`;
 * undefined when that is Keep or there is none (today's behaviour: nothing happens).
 */
export function effectiveIdlePolicy(
  database: Pick<DatabaseSpec, 'idle'>,
  template: Pick<TemplateSpec, 'databaseDefaults'> | undefined,
): EffectiveIdlePolicy | undefined {
  const own = database.idle;
  const policy = own ?? template?.databaseDefaults?.idle;
  if (!policy || policy.action === 'Keep' || policy.afterSeconds === undefined) return undefined;
  return { afterSeconds: policy.afterSeconds, action: policy.action, from: own ? 'Database' : 'Template' };
}

/** A policy as specs write it: `{after: 30m, action: Stop}`. */
export function idlePolicyToCrd(policy: IdlePolicy): Record<string, unknown> {
  return {
    ...(policy.afterSeconds !== undefined ? { after: formatDuration(policy.afterSeconds) } : {}),
    action: policy.action,
  };
}

export const IDLE_FLAG_HELP =
  'a duration, optionally with :stop, :delete or :keep (e.g. 30m, 2h:delete); default action stop';

/** The CLI's `--idle 30m[:stop|delete|keep]` as a spec's `idle:` mapping; undefined when malformed. */
export function parseIdleFlag(value: string): { after?: string; action: IdleAction } | undefined {
  const [after, action, ...rest] = value.trim().split(':');
  if (rest.length > 0) return undefined;
  const chosen =
    action === undefined ? 'Stop' : IDLE_ACTIONS.find((a) => a.toLowerCase() === action.toLowerCase());
  if (!chosen) return undefined;
  if (after === '' && chosen === 'Keep') return { action: 'Keep' };
  const seconds = parseDuration(after);
  if (seconds === undefined) return undefined;
  return { after: formatDuration(seconds), action: chosen };
}
