import type { Writable } from 'node:stream';

/** Programs run beside a server (its container, or the host) by the runtime; engines feed dumps to them. */

export interface ExecResult {
  readonly exitCode: number;
  /** Tail of stdout+stderr (bounded). */
  readonly output: string;
}

/** A program running beside a server: its stdin, its output as it comes, its end. */
export interface ExecSession {
  /** End it to close the program's stdin. */
  readonly stdin: Writable;
  /** Called with each piece of output (stdout and stderr) as it arrives. */
  onOutput(listener: (text: string) => void): void;
  /** Exit code and the tail of the output, once the program ended. */
  readonly result: Promise<ExecResult>;
  /** Stops feeding it and ends it. */
  abort(): void;
}
