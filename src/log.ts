import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger };

/** Paths whose values never reach the log, wherever a component puts them. */
export const REDACTED_PATHS = [
  "password",
  "*.password",
  "secret",
  "*.secret",
  "token",
  "*.token",
  "*.access_token",
  "*.refresh_token",
  "*.client_secret",
  "req.headers.authorization",
  "req.headers.cookie",
  'req.headers["x-hearth-secret"]',
  'res.headers["set-cookie"]',
];

export function createLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACTED_PATHS, censor: "[redacted]" },
    base: { service: "hearth" },
  };
  return destination ? pino(options, destination as pino.DestinationStream) : pino(options);
}
