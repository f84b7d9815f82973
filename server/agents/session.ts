import { AgentEvent, clip } from "@/schemas/agent-event";
import type { ConfinedProcess } from "@/server/confine/spawn";
import type { AgentSession, SessionOutput } from "./harness";

/** The longest line read from an agent's output; a longer one is cut and counted unparsed. */
export const MAX_LINE_BYTES = 1024 * 1024;

const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 ** 2;

/**
 * A child's stdout as lines, bounded in memory: a line longer than MAX_LINE_BYTES is cut there
 * (the rest of it skipped), and past `maxBytes` in all, reading stops with an overflow.
 */
export async function* boundedLines(
  input: AsyncIterable<Buffer | string>,
  maxBytes: number,
): AsyncIterable<{ line: string; cut: boolean } | { overflow: number }> {
  let total = 0;
  let parts: Buffer[] = [];
  let held = 0;
  let skipping = false;
  const take = (): { line: string; cut: boolean } => {
    const line = Buffer.concat(parts).toString("utf8").replace(/\r$/, "");
    const cut = skipping;
    parts = [];
    held = 0;
    skipping = false;
    return { line, cut };
  };
  for await (const piece of input) {
    const chunk = typeof piece === "string" ? Buffer.from(piece) : piece;
    total += chunk.length;
    let start = 0;
    while (start < chunk.length) {
      const nl = chunk.indexOf(10, start);
      const end = nl < 0 ? chunk.length : nl;
      if (!skipping) {
        const room = MAX_LINE_BYTES - held;
        const slice = chunk.subarray(start, Math.min(end, start + room));
        parts.push(slice);
        held += slice.length;
        if (end - start > room) skipping = true;
      }
      if (nl < 0) break;
      yield take();
      start = nl + 1;
    }
    if (total > maxBytes) {
      yield { overflow: total };
      return;
    }
  }
  if (held > 0 || skipping) yield take();
}

/** Lines read from a child's stdout between two turns of the event loop. */
const YIELD_EVERY_LINES = 256;

/** Reads a child's stdout as lines, bounded, mapping each through `parse`. */
async function* lines(
  proc: ConfinedProcess,
  parse: (line: string) => AgentEvent[] | null,
  initial: AgentEvent[],
  maxBytes: number,
): AsyncIterable<SessionOutput> {
  for (const event of initial) yield { event };
  const stdout = proc.child.stdout;
  if (!stdout) return;
  let read = 0;
  for await (const item of boundedLines(stdout, maxBytes)) {
    // A chunk of short lines is read without a turn of the event loop: yield one every
    // YIELD_EVERY_LINES, so whoever reads (its supervisor's timers) keeps running on time.
    if (++read % YIELD_EVERY_LINES === 0) await new Promise<void>((r) => setImmediate(r));
    if ("overflow" in item) {
      // Stop reading: the child blocks on a full pipe (or dies of EPIPE) until it is stopped.
      stdout.destroy();
      yield item;
      return;
    }
    const { line, cut } = item;
    if (!line.trim()) continue;
    let events: AgentEvent[] | null = null;
    try {
      events = cut ? null : parse(line);
    } catch {
      events = null;
    }
    if (events === null) {
      yield { unparsed: clip(line, 2000) };
      continue;
    }
    for (const e of events) {
      const ok = AgentEvent.safeParse(e);
      if (ok.success) yield { event: ok.data };
      else yield { unparsed: clip(JSON.stringify(e), 2000) };
    }
  }
}

/** The most of an agent's stderr kept on its run: its last lines, within a byte budget. */
export const STDERR_TAIL_LINES = 20;
export const STDERR_TAIL_BYTES = 4096;
/** How long, after the process exited, its stderr may take to close before the tail is read. */
const STDERR_SETTLE_MS = 500;

/**
 * The end of an agent's stderr as it is kept: its secrets replaced, control characters (other
 * than tab and newline) dropped, the last STDERR_TAIL_LINES non-blank lines, at most
 * STDERR_TAIL_BYTES (a cut first line starts with "…").
 */
export function stderrTail(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const s of secrets) if (s.length >= 4) out = out.split(s).join("[secret]");
  // biome-ignore lint/suspicious/noControlCharactersInRegex: dropping them is the point
  out = out.replace(/\r\n?/g, "\n").replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "");
  const lines = out.split("\n").filter((l) => l.trim() !== "");
  let kept = lines.slice(-STDERR_TAIL_LINES).join("\n");
  const buf = Buffer.from(kept, "utf8");
  if (buf.length > STDERR_TAIL_BYTES) {
    // Cut at a character boundary: drop leading continuation bytes.
    let start = buf.length - (STDERR_TAIL_BYTES - 3);
    while (start < buf.length && ((buf[start] ?? 0) & 0xc0) === 0x80) start++;
    kept = `…${buf.subarray(start).toString("utf8")}`;
  }
  return kept;
}

const ERROR_LINE =
  /\b(error|cannot|can't|fatal|denied|not found|no such|exception|failed|refused)\b/i;

/**
 * What a failure's reason quotes of the stderr: its last line that reads as an error (a stack
 * trace's frames come after it), else its last three lines. The run keeps all the tail.
 */
export function stderrGist(tail: string): string {
  const lines = tail.split("\n").map((l) => l.trim());
  const errorLine = lines.findLast((l) => ERROR_LINE.test(l) && !/^at\s/.test(l));
  const gist = errorLine ?? lines.slice(-3).join(" / ");
  return gist.length > 500 ? `${gist.slice(0, 499)}…` : gist;
}

/**
 * stderr is kept short (its last 16 KiB read); `tail()` waits for the process to exit and its
 * stderr to close (or STDERR_SETTLE_MS past the exit), then gives the kept end of it.
 */
function drainStderr(
  proc: ConfinedProcess,
  secrets: readonly string[],
): { tail: () => Promise<string> } {
  let raw = "";
  const stream = proc.child.stderr;
  const closed = new Promise<void>((resolve) => {
    if (!stream || stream.closed) resolve();
    else stream.once("close", () => resolve());
  });
  stream?.on("data", (chunk: Buffer) => {
    raw = (raw + chunk.toString("utf8")).slice(-16_384);
  });
  return {
    tail: async () => {
      await proc.exited;
      let timer: Awaited<ReturnType<typeof setTimeout>> | undefined;
      await Promise.race([
        closed,
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, STDERR_SETTLE_MS);
          timer.unref?.();
        }),
      ]);
      if (timer) clearTimeout(timer);
      return stderrTail(raw, secrets);
    },
  };
}

/** A confined child as an agent session: its stdout read as events through `parse`. */
export function confinedSession(
  proc: ConfinedProcess,
  parse: (line: string) => AgentEvent[] | null,
  steer?: (message: string) => boolean,
  initial: AgentEvent[] = [],
  maxBytes = DEFAULT_MAX_OUTPUT_BYTES,
  /** Values never kept from its stderr (an API key it was given). */
  secrets: readonly string[] = [],
): AgentSession {
  const err = drainStderr(proc, secrets);
  return {
    pid: proc.pid,
    sandbox: proc.sandbox,
    output: lines(proc, parse, initial, maxBytes),
    steer(message) {
      const stdin = proc.child.stdin;
      if (!steer || !stdin || stdin.destroyed || stdin.writableEnded) return false;
      return steer(message);
    },
    stop: proc.stop,
    exited: proc.exited,
    limitExceeded: proc.limitExceeded,
    stderrTail: err.tail,
  };
}
