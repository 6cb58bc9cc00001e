import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import type { Logger } from '../log.js';
import type { ImportProgress } from '../objects/index.js';

/** Reports progress to the status now and then (every 2 s) and to the log less often (every 10 s). */
export class ProgressReporter {
  #lastReport = 0;
  #lastLog = 0;
  readonly #started = Date.now();

  constructor(
    readonly total: number,
    readonly report: (progress: ImportProgress) => void,
    readonly log: Logger,
  ) {}

  /** Bytes of the dump read so far. */
  bytes(read: number, force = false): void {
    this.#update(read, undefined, force);
  }

  /** Items done of all: the bytes are estimated in proportion (items differ in size; it is a guide). */
  items(done: number, total: number): void {
    const read = total > 0 ? Math.round((this.total * Math.min(done, total)) / total) : 0;
    this.#update(read, { itemsDone: Math.min(done, total), itemsTotal: total }, done >= total);
  }

  #update(read: number, items: Pick<ImportProgress, 'itemsDone' | 'itemsTotal'> | undefined, force: boolean) {
    const now = Date.now();
    if (!force && now - this.#lastReport < 2000) return;
    this.#lastReport = now;
    const seconds = Math.max(0.001, (now - this.#started) / 1000);
    const rate = read / seconds;
    const progress: ImportProgress = {
      bytesRead: read,
      bytesTotal: this.total,
      bytesPerSecond: Math.round(rate),
      etaSeconds: rate > 0 ? Math.round((this.total - read) / rate) : -1,
      ...items,
    };
    this.report(progress);
    if (now - this.#lastLog >= 10_000) {
      this.#lastLog = now;
      this.log.info(progress, 'import progress');
    }
  }
}

/** Counts dump bytes as they are read (before decompression), hashing them. */
export class ProgressCounter extends Transform {
  #bytes = 0;

  constructor(
    readonly reporter: ProgressReporter,
    readonly hash: Hash,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#bytes += chunk.length;
    this.hash.update(chunk);
    this.reporter.bytes(this.#bytes);
    callback(null, chunk);
  }

  finish(): void {
    this.reporter.bytes(this.#bytes, true);
  }
}

/** Calls `onLine` with each complete line of text pushed in pieces. */
export function eachLine(onLine: (line: string) => void): { push: (text: string) => void; end: () => void } {
  let rest = '';
  return {
    push: (text) => {
      const lines = (rest + text).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines) onLine(line);
    },
    end: () => {
      if (rest) onLine(rest);
      rest = '';
    },
  };
}
