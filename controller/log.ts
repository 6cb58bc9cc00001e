import { type DestinationStream, type Logger as PinoLogger, destination, pino } from 'pino';
import { PinoPretty } from 'pino-pretty';

export type Logger = PinoLogger;

/**
 * Whether logs are for a person: stderr (where they go) is a terminal, unless MYAAS_LOG_FORMAT says
 * `json` (or `pretty`, to force it).
 */
export function prettyLogs(
  isTTY = Boolean(process.stderr.isTTY),
  format = process.env.MYAAS_LOG_FORMAT,
): boolean {
  if (format === 'json') return false;
  if (format === 'pretty') return true;
  return isTTY;
}

/**
 * Structured JSON logs, one event per line; readable lines (pino-pretty) in a terminal. `MYAAS_LOG_LEVEL`
 * sets the level (default info). pino-pretty runs as a synchronous stream in this thread rather than as a
 * worker transport: the line logged right before `process.exit(2)` (a controller that cannot start) is
 * written, not lost with the worker.
 */
export function createLogger(
  options: { level?: string; stream?: DestinationStream; pretty?: boolean } = {},
): Logger {
  const level = options.level ?? process.env.MYAAS_LOG_LEVEL ?? 'info';
  const pretty = options.pretty ?? (options.stream === undefined && prettyLogs());
  const stream = pretty
    ? PinoPretty({
        destination: options.stream ?? 2,
        sync: true,
        colorize: options.stream === undefined && Boolean(process.stderr.isTTY),
        translateTime: 'SYS:HH:MM:ss',
        ignore: 'pid,hostname,app',
      })
    : (options.stream ?? destination(2));
  return pino({ level, base: { app: 'myaas' } }, stream);
}

/** A logger that drops everything, for tests and CLI commands that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });
