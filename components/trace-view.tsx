import { stateLabel } from "@/schemas/labels";
import type { Trace } from "@/server/views/trace";
import { ChangeLabel, CommitLink, EntryLink, RequestLink, RunLink, TaskLink } from "./ids";

const short = (s: string | null | undefined, n = 12) => (s ? s.slice(0, n) : "—");

/**
 * The chain of a request, server-rendered: spec → tasks → runs → change requests (patch hash)
 * → approvals → queue entries → commits → rollbacks. Every id links to its page.
 */
export function TraceView({ trace, webUrl }: { trace: Trace; webUrl?: string }) {
  return (
    <section aria-labelledby="trace-heading" className="space-y-2" data-testid="trace">
      <h2 id="trace-heading" className="text-lg font-semibold">
        Trace
      </h2>
      {trace.request && (
        <p className="text-sm">
          <RequestLink id={trace.request.id} /> {trace.request.title} ·{" "}
          {stateLabel(trace.request.status)} · filed by {trace.request.requester}
          {trace.request.issue && (
            <>
              {" "}
              from{" "}
              <a className="underline" href={trace.request.issue.url}>
                {trace.request.issue.githubRepo}#{trace.request.issue.number}
              </a>
            </>
          )}
        </p>
      )}
      {trace.spec && (
        <p className="text-sm text-slate-700">
          Spec: {trace.spec.kind ?? "?"}, risk {trace.spec.risk ?? "?"}, areas{" "}
          {trace.spec.areas.join(", ") || "—"}
          {`; checks ${trace.spec.checks.join(", ") || "none"}; scoped by `}
          {trace.spec.engineer}
          {trace.spec.engineerFallback ? ` (${trace.spec.engineerFallback})` : ""}
        </p>
      )}
      <ol className="space-y-2 text-sm">
        {trace.tasks.map((t) => (
          <li key={t.id} className="rounded border border-slate-200 p-2">
            <p>
              Task <TaskLink id={t.id} /> {t.title} · {stateLabel(t.state)}
              {t.area ? ` · area ${t.area}` : ""}
            </p>
            <ul className="ml-4 list-disc">
              {t.runs.map((r) => (
                <li key={`run-${r.id}`}>
                  <RunLink id={r.id} /> {r.agent} · {stateLabel(r.state)} · prompt{" "}
                  <span className="font-mono">sha256:{short(r.promptHash)}</span>
                  {r.reason ? ` — ${r.reason}` : ""}
                </li>
              ))}
              {t.changes.map((c) => (
                <li key={`change-${c.id}`} data-testid="trace-change">
                  Change <ChangeLabel id={c.id} /> · patch{" "}
                  <span className="font-mono">sha256:{short(c.patchHash)}</span> · risk {c.risk}
                  {c.runId ? (
                    <>
                      {" "}
                      · from <RunLink id={c.runId} />
                    </>
                  ) : null}
                  <ul className="ml-4 list-[circle]">
                    {c.approvals.map((a) => (
                      <li key={`${a.reviewer}-${a.at}`}>
                        {a.decision} by {a.reviewer}
                        {a.diffShown ? " (diff shown)" : ""}
                        {a.comment ? `: ${a.comment}` : ""}
                        {a.voidedReason ? ` — voided: ${a.voidedReason}` : ""}
                      </li>
                    ))}
                    {c.entry && (
                      <li>
                        <EntryLink id={c.entry.id} /> {stateLabel(c.entry.state)}
                        {c.entry.mergedCommit ? (
                          <>
                            {" "}
                            → commit <CommitLink sha={c.entry.mergedCommit} webUrl={webUrl} />
                          </>
                        ) : null}
                      </li>
                    )}
                    {c.revertedBy && (
                      <li>
                        rolled back by <ChangeLabel id={c.revertedBy.id} />
                        {c.revertedBy.entryId ? (
                          <>
                            {" / "}
                            <EntryLink id={c.revertedBy.entryId} />
                          </>
                        ) : null}
                        {c.revertedBy.mergedCommit && (
                          <>
                            {" "}
                            → commit <CommitLink sha={c.revertedBy.mergedCommit} webUrl={webUrl} />
                          </>
                        )}
                      </li>
                    )}
                  </ul>
                </li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </section>
  );
}
