/** pino loggers: JSON by default, human-readable with format "pretty" (for a terminal). */
import pino, { type Logger } from 'pino';

export function createLogger(o: { level: string; format: 'json' | 'pretty'; name: string }): Logger {
  if (o.format === 'pretty') {
    return pino({
      name: o.name,
      level: o.level,
      transport: { target: 'pino-pretty', options: { colorize: process.stdout.isTTY, translateTime: 'HH:MM:ss', ignore: 'pid,hostname' } },
    });
  }
  return pino({ name: o.name, level: o.level });
}
