/**
 * Whether a Pod may run on a Node, by the rules kube-scheduler's NodeAffinity plugin applies before
 * anything else: spec.nodeSelector (every label must match) and
 * affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution (any term, all of its
 * matchExpressions: In, NotIn, Exists, DoesNotExist, Gt, Lt). Also refuses unschedulable nodes.
 */

interface Expression {
  key: string;
  operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  values?: string[];
}
interface Term {
  matchExpressions?: Expression[];
  matchFields?: Expression[];
}
export interface PodLike {
  spec?: {
    nodeSelector?: Record<string, string>;
    affinity?: {
      nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: Term[] } };
    };
  };
}
export interface NodeLike {
  metadata: { name: string; labels?: Record<string, string> };
  spec?: { unschedulable?: boolean };
}

function expressionMatches(e: Expression, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, e.key);
  const value = labels[e.key];
  const values = e.values ?? [];
  switch (e.operator) {
    case 'In':
      return has && values.includes(value!);
    case 'NotIn':
      return !has || !values.includes(value!);
    case 'Exists':
      return has;
    case 'DoesNotExist':
      return !has;
    case 'Gt':
    case 'Lt': {
      if (!has) return false;
      const n = Number.parseInt(value!, 10);
      const limit = Number.parseInt(values[0] ?? '', 10);
      if (Number.isNaN(n) || Number.isNaN(limit)) return false;
      return e.operator === 'Gt' ? n > limit : n < limit;
    }
    default:
      return false;
  }
}

function termMatches(term: Term, node: NodeLike): boolean {
  const labels = node.metadata.labels ?? {};
  const fields = { 'metadata.name': node.metadata.name };
  const expressions = term.matchExpressions ?? [];
  const matchFields = term.matchFields ?? [];
  // An empty term selects no node (k8s.io/component-helpers nodeaffinity).
  if (expressions.length === 0 && matchFields.length === 0) return false;
  return (
    expressions.every((e) => expressionMatches(e, labels)) &&
    matchFields.every((e) => expressionMatches(e, fields))
  );
}

/** Why the node does not fit (the scheduler's wording), or undefined when it does. */
export function misfit(pod: PodLike, node: NodeLike): string | undefined {
  if (node.spec?.unschedulable) return 'node(s) were unschedulable';
  const labels = node.metadata.labels ?? {};
  for (const [key, value] of Object.entries(pod.spec?.nodeSelector ?? {}))
    if (labels[key] !== value) return "node(s) didn't match Pod's node affinity/selector";
  const terms =
    pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
  if (terms && !terms.some((t) => termMatches(t, node)))
    return "node(s) didn't match Pod's node affinity/selector";
  return undefined;
}
