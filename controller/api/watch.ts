import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Kind, type ObjectKey, parseKey } from '../objects/index.js';
import type { RunningController } from '../run.js';

/** How long changes are gathered before one event tells of them all: an import's progress writes often. */
const COALESCE_MS = 200;
/** A comment line this often keeps proxies and the browser from closing an idle stream. */
const KEEPALIVE_MS = 15_000;

/** What an event names: object kinds, and `Deletions` when the held mass removals change. */
type Changed = Kind | 'Deletions';

/**
 * `GET /api/v1/watch`: server-sent events naming the kinds whose objects changed (`{"kinds":["Database"]}`),
 * so a page refetches what changed instead of polling. It carries no object data: what a caller may
 * see is decided by the list routes it then reads, in one place.
 */
export function serveWatch(running: RunningController, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx and the like buffer responses unless told not to: events would arrive in bursts.
    'x-accel-buffering': 'no',
  });
  res.write('retry: 2000\n\nevent: hello\ndata: {}\n\n');
  const pending = new Set<Changed>();
  let timer: NodeJS.Timeout | undefined;
  const flush = () => {
    timer = undefined;
    if (pending.size === 0) return;
    res.write(`event: change\ndata: ${JSON.stringify({ kinds: [...pending].sort() })}\n\n`);
    pending.clear();
  };
  const changed = (kinds: Changed[]) => {
    for (const kind of kinds) pending.add(kind);
    timer ??= setTimeout(flush, COALESCE_MS);
  };
  const kindsOf = (keys: readonly ObjectKey[]) => keys.map((key) => parseKey(key).kind);
  const offStore = running.store.subscribe((key) => changed(kindsOf([key])));
  const offDesired = running.desired.subscribe((keys) => changed(kindsOf(keys)));
  const offGuard = running.controller.guard.subscribe(() => changed(['Deletions']));
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  const stop = () => {
    offStore();
    offDesired();
    offGuard();
    clearInterval(keepalive);
    if (timer) clearTimeout(timer);
  };
  req.once('close', stop);
  res.once('close', stop);
}
