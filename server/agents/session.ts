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

/** stderr is kept short: the last lines become the reason of a failed start. */
function drainStderr(proc: ConfinedProcess): { tail: () => string } {
  let tail = "";
  proc.child.stderr?.on("data", (chunk: Buffer) => {
    tail = (tail + chunk.toString("utf8")).slice(-4000);
  });
  return { tail: () => tail };
}

/** A confined child as an agent session: its stdout read as events through `parse`. */
export function confinedSession(
  proc: ConfinedProcess,
  parse: (line: string) => AgentEvent[] | null,
  steer?: (message: string) => boolean,
  initial: AgentEvent[] = [],
  maxBytes = DEFAULT_MAX_OUTPUT_BYTES,
): AgentSession & { stderr: () => string } {
  const err = drainStderr(proc);
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
    stderr: err.tail,
  };
}
