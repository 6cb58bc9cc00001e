import PQueue from 'p-queue';
import type { Logger } from '../log.js';
import type { ImportTrigger } from '../objects/index.js';

/** An import queued or under way. */
export interface RunningImport {
  readonly version: string;
  /** When the import was asked for: a touch after this asks for another. */
  readonly requestedAt: number;
  readonly trigger: ImportTrigger;
  readonly controller: AbortController;
  /** Settles when the import ended, however it ended. */
  readonly done: Promise<void>;
}

/**
 * Runs imports in the background, at most `concurrency` at once and one per template, so databases
 * keep being served meanwhile. The reconciler decides what to import; this only runs and cancels.
 */
export class ImportRunner {
  readonly #imports = new Map<string, RunningImport>();
  readonly #queue: PQueue;
  readonly #log: Logger;
  #stopped = false;

  constructor(concurrency: number, log: Logger) {
    this.#queue = new PQueue({ concurrency });
    this.#log = log;
  }

  /** Templates with an import running or queued now. */
  get importing(): ReadonlySet<string> {
    return new Set(this.#imports.keys());
  }

  get(template: string): RunningImport | undefined {
    return this.#imports.get(template);
  }

  /**
   * Queues `task` for `template`; `finished` is called once it ended (also when it was cancelled
   * before its turn came).
   */
  start(
    template: string,
    version: string,
    trigger: ImportTrigger,
    task: (signal: AbortSignal) => Promise<void>,
    finished: () => void,
  ): void {
    const controller = new AbortController();
    // Asked for while stopping (a reconcile still running): nothing may outlive stop().
    if (this.#stopped) controller.abort('controller stopping');
    const done = this.#queue
      .add(async () => {
        if (controller.signal.aborted) return;
        await task(controller.signal);
      })
      .catch((error: unknown) => this.#log.error({ err: error, template }, 'import task failed'))
      .finally(() => {
        this.#imports.delete(template);
        finished();
      });
    this.#imports.set(template, {
      version,
      requestedAt: Date.now(),
      trigger,
      controller,
      done: done.then(() => undefined),
    });
  }

  /** Aborts the template's import, if any, and waits until it ended. */
  async cancel(template: string, reason: string): Promise<void> {
    const running = this.#imports.get(template);
    if (!running) return;
    running.controller.abort(reason);
    await running.done;
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    // Aborted imports still queued return at once when their turn comes (clear() would strand them).
    for (const running of this.#imports.values()) running.controller.abort('controller stopping');
    await Promise.allSettled([...this.#imports.values()].map((i) => i.done));
  }
}
