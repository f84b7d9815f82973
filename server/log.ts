import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import path from "node:path";
import { trace } from "@opentelemetry/api";
import pino from "pino";
import { createStream, type RotatingFileStream } from "rotating-file-stream";
import { currentEnv } from "@/server/env.mjs";

/**
 * The ids of what a log line is about. Set by `withLogContext` where work on a request, task,
 * queue entry or agent run starts; every line logged inside (awaits included) carries them.
 */
export type LogContext = {
  requestId?: number;
  taskId?: string;
  entryId?: number;
  runId?: number;
};

const contexts = new AsyncLocalStorage<LogContext>();

/** Runs `fn` with these ids added to the ones around it, on every line it logs. */
export function withLogContext<T>(ids: LogContext, fn: () => T): T {
  const defined = Object.fromEntries(Object.entries(ids).filter(([, v]) => v != null));
  return contexts.run({ ...contexts.getStore(), ...defined }, fn);
}

/** The ids in force here (empty outside any `withLogContext`). */
export function logContext(): LogContext {
  return contexts.getStore() ?? {};
}

/** What each line gets besides its own fields: the context's ids and the active trace's. */
function mixin(): Record<string, unknown> {
  const ids = contexts.getStore();
  const span = trace.getActiveSpan()?.spanContext();
  const traced = span && span.traceId !== "00000000000000000000000000000000";
  if (!ids && !traced) return {};
  return { ...ids, ...(traced ? { traceId: span.traceId, spanId: span.spanId } : {}) };
}

/** The log file's size bound, and how many rotated files are kept beside it. */
export const LOG_FILE_BYTES = 10 * 1024 * 1024;
export const LOG_FILES_KEPT = 5;

/**
 * `<dir>/hyperion.log`, rotated by size (rotating-file-stream): past `bytes` it becomes
 * hyperion.log.1 (the older ones shift up), and at most `kept` rotated files remain.
 */
export function openLogFile(
  dir: string,
  opts: { bytes?: number; kept?: number } = {},
): RotatingFileStream {
  fs.mkdirSync(dir, { recursive: true });
  // With `rotate` (logrotate's way) the generator is given the rotated file's index, or null.
  const name = (index: number | Date | null) => (index ? `hyperion.log.${index}` : "hyperion.log");
  return createStream(name, {
    path: dir,
    size: `${Math.max(1, Math.ceil((opts.bytes ?? LOG_FILE_BYTES) / 1024))}K`,
    rotate: opts.kept ?? LOG_FILES_KEPT,
  });
}

/**
 * The log file in the data folder, opened at the first line written (never at load: `hyperion
 * --help` creates nothing), and again in the new folder when HYPERION_DATA changes (tests).
 * A file that cannot be written is reported once on stderr; lines then go on to stderr's
 * warnings only.
 */
class DataFolderLog {
  private dir: string | null = null;
  private stream: RotatingFileStream | null = null;
  private broken = false;
  /** Settles once every line written so far is in the file (or the file failed). */
  written: Promise<void> = Promise.resolve();

  write(line: string): void {
    if (this.broken) return;
    let dir: string;
    try {
      dir = path.join(currentEnv().dataDir, "logs");
    } catch {
      return;
    }
    if (dir !== this.dir) {
      this.stream?.end();
      this.stream = null;
      this.dir = dir;
      try {
        const stream = openLogFile(dir);
        stream.on("error", (err: Error) => {
          if (this.stream !== stream) return;
          this.broken = true;
          this.stream = null;
          process.stderr.write(
            `hyperion: the log file in ${dir} cannot be written: ${err.message}\n`,
          );
        });
        this.stream = stream;
      } catch (err) {
        this.broken = true;
        process.stderr.write(
          `hyperion: the log file in ${dir} cannot be written: ${(err as Error).message}\n`,
        );
        return;
      }
    }
    const stream = this.stream;
    if (!stream) return;
    this.written = new Promise<void>((resolve) => {
      stream.write(line, () => resolve());
    });
  }
}

/** HYPERION_LOG as parsed by server/env.mjs; a bad environment counts as unset here. */
function consoleWanted(): boolean {
  try {
    return currentEnv().HYPERION_LOG === "1";
  } catch {
    return false;
  }
}

const REDACT = {
  paths: ["password", "*.password", "token", "*.token", "secret", "authorization", "cookie"],
  censor: "[redacted]",
};

/**
 * A logger like `log`, writing to the given streams: with `console`, everything from debug up
 * to `stderr` and nothing to the file; otherwise info and up to `file`, and warnings and errors
 * to `stderr` as well (operators and tests read a worker's stderr for them).
 */
export function makeLogger(opts: {
  console: boolean;
  stderr: pino.DestinationStream;
  file: pino.DestinationStream;
}): pino.Logger {
  const streams: pino.StreamEntry[] = opts.console
    ? [{ level: "debug", stream: opts.stderr }]
    : [
        { level: "info", stream: opts.file },
        { level: "warn", stream: opts.stderr },
      ];
  return pino(
    {
      level: opts.console ? "debug" : "info",
      base: { pid: process.pid },
      redact: REDACT,
      mixin,
    },
    pino.multistream(streams),
  );
}

/**
 * The one logger for the CLI and the worker (pino: structured JSON lines, fast, with path-based
 * redaction). With HYPERION_LOG=1 every line from debug up goes to stderr (the console) and none
 * to the file; otherwise info and up go to `<data>/logs/hyperion.log` (rotated by size) and
 * warnings and errors to stderr too. Each line carries the request, task, entry and run ids of
 * its `withLogContext`, and the active trace's ids. Secrets are censored. Loading this module
 * never throws: a bad environment is reported by whoever reads it at start (the CLI exits 2
 * with the message).
 */
const file = new DataFolderLog();
export const log = makeLogger({
  console: consoleWanted(),
  stderr: pino.destination(2),
  file,
});

/**
 * Settles once the lines logged so far are in the log file: the file is written in the
 * background, so a process about to exit (the CLI, a stopping worker) awaits it first.
 */
export function logFileWritten(): Promise<void> {
  return file.written;
}
