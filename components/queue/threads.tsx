import { formatAge } from "../age";
import { EntryLink } from "../ids";
import type { Overview } from "./types";

const pct = (x: number | null) => (x === null ? "—" : `${Math.round(x * 100)}%`);
const ms = (x: number | null) => (x === null ? "—" : formatAge(x));

function Stat({ label, value, testId }: { label: string; value: string; testId: string }) {
  return (
    <div className="rounded border border-slate-200 bg-white p-3">
      <div className="text-xs text-slate-500">{label}</div>
      <div className="text-lg font-semibold" data-testid={testId}>
        {value}
      </div>
    </div>
  );
}

/** The worker's queue threads, each with what it lands and its heartbeat; then the queue's rates. */
export function Threads({
  status,
  insights,
}: {
  status: Overview["status"];
  insights: Overview["insights"];
}) {
  return (
    <section aria-labelledby="threads-heading">
      <h2 id="threads-heading" className="mb-2 font-semibold">
        Worker threads
      </h2>
      {status.threads.length > 0 && (
        <div className="grid grid-cols-1 gap-3 sm:grid-cols-3">
          {status.threads.map((t) => (
            <div
              key={t.id}
              className="rounded border border-slate-200 bg-white p-3 text-sm"
              data-testid="thread-pane"
            >
              <div className="break-all font-mono text-xs">{t.id}</div>
              <div>
                {t.currentEntryId ? (
                  <>
                    landing <EntryLink id={t.currentEntryId} />
                  </>
                ) : (
                  "idle"
                )}
              </div>
              <div className="text-slate-500">heartbeat {formatAge(t.heartbeatAgeMs)} ago</div>
            </div>
          ))}
        </div>
      )}
      <div className="mt-3 grid grid-cols-2 gap-3 sm:grid-cols-3 lg:grid-cols-6">
        <Stat
          label={`throughput (${insights.windowMinutes} min)`}
          value={`${insights.throughputPerMin.toFixed(1)}/min`}
          testId="throughput"
        />
        <Stat label="success rate" value={pct(insights.successRate)} testId="success-rate" />
        <Stat label="conflict rate" value={pct(insights.conflictRate)} testId="conflict-rate" />
        <Stat label="p50 in queue" value={ms(insights.p50QueueMs)} testId="p50" />
        <Stat label="p95 in queue" value={ms(insights.p95QueueMs)} testId="p95" />
        <Stat label="oldest pending" value={ms(status.oldestPendingAgeMs)} testId="oldest" />
      </div>
    </section>
  );
}
