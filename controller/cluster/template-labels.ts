import { createHash } from 'node:crypto';
import type { VersionMeta } from '../objects/index.js';

/**
 * What a node agent tells the cluster about the template versions it holds ready: a Node label per
 * template (`templates.myaas.dev/<template>=<content key>`, what a database Pod's node affinity selects)
 * and one annotation with when each was made (which key is newest when nodes differ).
 *
 * A version's id is made by the node that imported it, so the same dump imported on two nodes has two
 * ids: the label carries the version's *content key* instead, the same on every node that loaded the
 * same dump with the same import settings.
 */

export const TEMPLATE_LABEL_PREFIX = 'templates.myaas.dev/';
export const templateNodeLabel = (template: string) => `${TEMPLATE_LABEL_PREFIX}${template}`;
export const TEMPLATE_VERSIONS_ANNOTATION = 'myaas.dev/template-versions';

/** One template version a node holds ready, as its annotation says. */
export interface HeldVersion {
  readonly key: string;
  /** The node's own version id (what its clones are made from). */
  readonly version: string;
  /** Epoch ms the version was made. */
  readonly createdAt: number;
}

/** The same on every node for the same dump bytes and import settings; a valid label value. */
export function contentKey(meta: VersionMeta): string {
  const digest = createHash('sha256')
    .update([meta.engine, meta.image, meta.database, meta.dumpSha256, meta.trigger.specDigest].join('\0'))
    .digest('hex');
  return `c${digest.slice(0, 24)}`;
}

interface NodeLike {
  metadata?: { name?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
}

/** The versions a Node holds ready: its annotation, only where its label agrees (labels are what scheduling sees). */
export function heldVersions(node: NodeLike): Map<string, HeldVersion> {
  const out = new Map<string, HeldVersion>();
  const labels = node.metadata?.labels ?? {};
  let annotated: Record<string, HeldVersion> = {};
  try {
    annotated = JSON.parse(node.metadata?.annotations?.[TEMPLATE_VERSIONS_ANNOTATION] ?? '{}');
  } catch {
    return out;
  }
  for (const [template, held] of Object.entries(annotated))
    if (labels[templateNodeLabel(template)] === held?.key) out.set(template, held);
  return out;
}

/**
 * The template's current content key in the cluster: the newest version any node holds ready. Nodes
 * still importing it are not candidates until their label says so; an older key stays usable only by
 * databases already made from it.
 */
export function currentKey(nodes: readonly NodeLike[], template: string): string | undefined {
  let best: HeldVersion | undefined;
  for (const node of nodes) {
    const held = heldVersions(node).get(template);
    if (held && (!best || held.createdAt > best.createdAt)) best = held;
  }
  return best?.key;
}

/** The nodes holding `key` of `template` ready. */
export function nodesHolding(nodes: readonly NodeLike[], template: string, key: string): string[] {
  return nodes
    .filter((n) => heldVersions(n).get(template)?.key === key)
    .map((n) => n.metadata?.name ?? '')
    .filter(Boolean);
}

/** Whether a Node's labels satisfy a Template's node selector (absent: every node). */
export function selects(selector: Readonly<Record<string, string>> | undefined, node: NodeLike): boolean {
  const labels = node.metadata?.labels ?? {};
  return Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
}
