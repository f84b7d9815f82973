import Link from "next/link";
import type { Trace } from "@/server/trace/trace";

const short = (s: string | null | undefined, n = 12) => (s ? s.slice(0, n) : "—");

/**
 * The chain of a request, server-rendered: spec → tasks → runs → change requests (patch hash)
 * → approvals → queue entries → commits → rollbacks. Every id links to its page.
 */
export function TraceView({ trace }: { trace: Trace }) {
  return (
    <section aria-labelledby="trace-heading" className="space-y-2" data-testid="trace">
      <h2 id="trace-heading" className="text-lg font-semibold">
        Trace
      </h2>
      {trace.request && (
        <p className="text-sm">
          <Link className="underline" href={`/requests/${trace.request.id}`}>
            R{trace.request.id}
          </Link>{" "}
          {trace.request.title} · {trace.request.status} · filed by {trace.request.requester}
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
              Task <span className="font-mono">{t.id}</span> {t.title} · {t.state}
              {t.area ? ` · area ${t.area}` : ""}
            </p>
            <ul className="ml-4 list-disc">
              {t.runs.map((r) => (
                <li key={`run-${r.id}`}>
                  <Link className="underline" href={`/runs/${r.id}`}>
                    Run #{r.id}
                  </Link>{" "}
                  {r.agent} · {r.state} · prompt{" "}
                  <span className="font-mono">sha256:{short(r.promptHash)}</span>
                  {r.reason ? ` — ${r.reason}` : ""}
                </li>
              ))}
              {t.changes.map((c) => (
                <li key={`change-${c.id}`} data-testid="trace-change">
                  Change C{c.id} · patch{" "}
                  <span className="font-mono">sha256:{short(c.patchHash)}</span> · risk {c.risk}
                  {c.runId ? (
                    <>
                      {" "}
                      · from{" "}
                      <Link className="underline" href={`/runs/${c.runId}`}>
                        run #{c.runId}
                      </Link>
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
                        <Link className="underline" href={`/queue/${c.entry.id}`}>
                          Q{c.entry.id}
                        </Link>{" "}
                        {c.entry.state.replaceAll("_", " ")}
                        {c.entry.mergedCommit ? (
                          <>
                            {" "}
                            → commit{" "}
                            <span className="font-mono">{short(c.entry.mergedCommit)}</span>
                          </>
                        ) : null}
                      </li>
                    )}
                    {c.revertedBy && (
                      <li>
                        rolled back by C{c.revertedBy.id}
                        {c.revertedBy.entryId ? (
                          <>
                            {" / "}
                            <Link className="underline" href={`/queue/${c.revertedBy.entryId}`}>
                              Q{c.revertedBy.entryId}
                            </Link>
                          </>
                        ) : null}
                        {c.revertedBy.mergedCommit
                          ? ` → commit ${short(c.revertedBy.mergedCommit)}`
                          : ""}
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
