import { type DestinationStream, type Logger as PinoLogger, destination, pino } from 'pino';

export type Logger = PinoLogger;

/** Structured JSON logs, one event per line. `MYAAS_LOG_LEVEL` sets the level (default info). */
export function createLogger(options: { level?: string; stream?: DestinationStream } = {}): Logger {
  const level = options.level ?? process.env.MYAAS_LOG_LEVEL ?? 'info';
  return pino({ level, base: { app: 'myaas' } }, options.stream ?? destination(2));
}

/** A logger that drops everything, for tests and CLI commands that print their own output. */
export const silentLogger: Logger = pino({ level: 'silent' });
