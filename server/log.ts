import pino from "pino";

/**
 * The one logger for the CLI and the worker (pino: structured JSON lines, fast, with path-based
 * redaction). Info and debug go to stderr only with HYPERION_LOG=1; secrets are censored.
 */
export const log = pino(
  {
    level: process.env.HYPERION_LOG === "1" ? "debug" : "warn",
    base: { pid: process.pid },
    redact: {
      paths: ["password", "*.password", "token", "*.token", "secret", "authorization", "cookie"],
      censor: "[redacted]",
    },
  },
  pino.destination(2),
);
