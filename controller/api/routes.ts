import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from '../log.js';
import type { RunningController } from '../run.js';
import type { Caller } from './auth.js';
import type { SpecWriter } from './spec-writer.js';

/** What both APIs' route tables are made of, and what their handlers are given. */

export type Handler = (
  req: IncomingMessage,
  res: ServerResponse,
  params: string[],
  url: URL,
  /** Who is calling (the local admin when the controller has no users). */
  caller: Caller,
) => Promise<void>;

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
  /** Reachable without the bearer token (health probes). */
  readonly open?: boolean;
}

export interface ApiContext {
  readonly running: RunningController;
  readonly writer: SpecWriter;
  readonly log: Logger;
  /** How long POST /db waits for a new database to accept connections. @default 60 */
  readonly waitSeconds: number;
  /** Where the built web UI is. @default dist/ui of the package */
  readonly uiDir?: string;
}
