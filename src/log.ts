import { type Logger, type LoggerOptions, pino } from "pino";

export type { Logger };

/**
 * Paths whose values never reach the log, wherever a component puts them. A second line of defence: no
 * component logs a secret on purpose (test/integration/log-redaction.test.ts drives every one that handles
 * one at the most verbose level and searches the log for each value).
 */
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
  "*.claim_token",
  // A hook's signing secret or URL token, as the store hands it out once.
  "*.credential",
  // A service-account key, should a parsed key file ever be logged.
  "*.private_key",
  "req.headers.authorization",
  "req.headers.cookie",
  // The Alexa forwarder's shared secret (FORWARDER_SECRET_HEADER in src/alexa/route.ts).
  'req.headers["x-hearth-forwarder-secret"]',
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
