/** Structured JSON logs (pino): one line per event, machine-readable in a cluster, quiet in tests. */
import { pino } from 'pino';

export type Logger = pino.Logger;

export function makeLogger(options: { name: string; level?: string; destination?: NodeJS.WritableStream }): Logger {
  const level = options.level ?? process.env.BIJ_LOG_LEVEL ?? process.env.LOG_LEVEL ?? 'info';
  return options.destination
    ? pino({ name: options.name, level }, options.destination as pino.DestinationStream)
    : pino({ name: options.name, level });
}

/** A logger that drops everything, for tests and embedded use. */
export const silentLogger = (): Logger => pino({ level: 'silent' });
