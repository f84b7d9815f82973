import pino from "pino";
import { currentEnv } from "@/server/env.mjs";

/**
 * HYPERION_LOG as parsed by server/env.mjs. Loading this module never throws: a bad environment
 * is reported by whoever reads it at start (the CLI exits 2 with the message).
 */
function logLevel(): "debug" | "warn" {
  try {
    return currentEnv().HYPERION_LOG === "1" ? "debug" : "warn";
  } catch {
    return "warn";
  }
}

/**
 * The one logger for the CLI and the worker (pino: structured JSON lines, fast, with path-based
 * redaction). Info and debug go to stderr only with HYPERION_LOG=1; secrets are censored.
 */
export const log = pino(
  {
    level: logLevel(),
    base: { pid: process.pid },
    redact: {
      paths: ["password", "*.password", "token", "*.token", "secret", "authorization", "cookie"],
      censor: "[redacted]",
    },
  },
  pino.destination(2),
);
