import { entryStateLabels, reasonText } from "@/schemas/labels";
import type { RunDetail } from "@/server/views/runs";

const RUN_WORDS: Record<string, string> = {
  starting: "Run created",
  running: "Agent running",
  checking: "Agent done; its task's checks run on the change",
  submitted: "Change submitted to the merge queue",
  failed: "Run failed",
  stopped: "Run stopped",
  lost: "Run lost (its worker stopped)",
};

/** A move in words: the run's own, or its change's in the queue. */
function words(type: string, to: string, from: string | null): string {
  if (type.startsWith("change.")) {
    const label = entryStateLabels[to as keyof typeof entryStateLabels] ?? to;
    return `Change: ${label.toLowerCase()}`;
  }
  if (to === "running" && from === "checking") return "Checks failed; the agent resumes with them";
  return RUN_WORDS[to] ?? to;
}

// A fixed zone and format, so the server's render and the browser's agree.
const time = new Intl.DateTimeFormat("en-GB", {
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  timeZone: "UTC",
});

/**
 * The run's life from the event log, to its end and past it: started, checked, submitted, then
 * its change queued and merged (or quarantined, rejected). It says what happened even when the
 * agent printed nothing.
 */
export function Timeline({ moves }: { moves: RunDetail["moves"] }) {
  if (moves.length === 0) return null;
  return (
    <section>
      <h2 className="mb-2 font-semibold">Timeline</h2>
      <ol className="space-y-1 text-sm" data-testid="run-timeline">
        {moves.map((m, i) => (
          <li
            // biome-ignore lint/suspicious/noArrayIndexKey: the list only grows at its end
            key={i}
            data-testid="run-move"
            data-type={m.type}
            className="flex flex-wrap gap-x-2"
          >
            <time className="tabular-nums text-slate-500" dateTime={new Date(m.at).toISOString()}>
              {time.format(m.at)} UTC
            </time>
            <span>
              {words(m.type, m.to, m.from)}
              {m.reason ? `: ${reasonText(m.reason)}` : ""}
            </span>
          </li>
        ))}
      </ol>
    </section>
  );
}
