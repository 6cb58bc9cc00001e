import {
  CoreV1Api,
  type KubeConfig,
  PatchStrategy,
  type V1Node,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { Logger } from '../log.js';
import type { DesiredState } from '../objects/index.js';
import type { TemplateVersions } from '../templates/template-versions.js';
import {
  type HeldVersion,
  TEMPLATE_LABEL_PREFIX,
  TEMPLATE_VERSIONS_ANNOTATION,
  contentKey,
  templateNodeLabel,
} from './template-labels.js';

export interface NodeVersionsOptions {
  readonly kubeConfig: KubeConfig;
  readonly nodeName: string;
  /** The agent's Node as last seen (its informer). */
  readonly node: () => V1Node | undefined;
  /** The templates this node imports. */
  readonly templates: DesiredState;
  readonly versions: TemplateVersions;
  readonly log: Logger;
}

/**
 * Labels the agent's Node with the current version of each template it holds ready
 * (`templates.myaas.dev/<template>=<content key>`) and annotates when each was made: what database
 * Pods' node affinity selects. A template no longer imported here loses its label at once, so no new
 * database is placed on a node that stopped holding it (one already placed keeps its clone).
 */
export class NodeVersions {
  readonly #o: NodeVersionsOptions;
  readonly #core: CoreV1Api;
  readonly #log: Logger;
  #running: Promise<void> | undefined;
  #again = false;

  constructor(options: NodeVersionsOptions) {
    this.#o = options;
    this.#core = options.kubeConfig.makeApiClient(CoreV1Api);
    this.#log = options.log.child({ component: 'node-versions' });
  }

  /** Publishes what the node holds now; calls while one runs make one more run after it. */
  publish(): Promise<void> {
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#publishOnce();
        } while (this.#again);
      } catch (error) {
        this.#log.warn(
          { err: (error as Error).message },
          'could not label the Node; trying again at the next change',
        );
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  async #publishOnce(): Promise<void> {
    const node = this.#o.node();
    if (!node) return;
    const held: Record<string, HeldVersion> = {};
    for (const declared of this.#o.templates.list('Template')) {
      const name = declared.object.metadata.name;
      const current = await this.#o.versions.current(name);
      // A snapshot template's versions copy a database of this node: never the same on two nodes.
      if (current?.dumpSha256)
        held[name] = { key: contentKey(current), version: current.version, createdAt: current.createdAt };
    }
    const labels: Record<string, string | null> = {};
    const existing = node.metadata?.labels ?? {};
    for (const label of Object.keys(existing))
      if (label.startsWith(TEMPLATE_LABEL_PREFIX)) labels[label] = null;
    for (const [template, version] of Object.entries(held)) labels[templateNodeLabel(template)] = version.key;
    const annotation = JSON.stringify(held);
    const unchanged =
      Object.entries(labels).every(([k, v]) => (existing[k] ?? null) === v) &&
      node.metadata?.annotations?.[TEMPLATE_VERSIONS_ANNOTATION] === annotation;
    if (unchanged) return;
    await this.#core.patchNode(
      {
        name: this.#o.nodeName,
        body: { metadata: { labels, annotations: { [TEMPLATE_VERSIONS_ANNOTATION]: annotation } } },
      },
      setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
    );
    this.#log.info(
      { templates: Object.fromEntries(Object.entries(held).map(([t, v]) => [t, v.key])) },
      'Node labelled with the template versions it holds ready',
    );
  }
}
