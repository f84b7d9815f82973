import { Age } from "../age";
import { EntryLink } from "../ids";
import type { Overview } from "./types";

const VERIFICATION_STYLE: Record<string, string> = {
  running: "border-slate-200 bg-white",
  passed: "border-emerald-200 bg-emerald-50",
  flaky: "border-amber-200 bg-amber-50",
  culprit: "border-red-200 bg-red-50",
  failed: "border-red-200 bg-red-50",
  error: "border-red-200 bg-red-50",
};

/**
 * Post-merge verifications (policy.postMerge): the target branch's full checks after landings,
 * a flaky failure nobody is blamed for, or the culprit bisection found and its revert.
 */
export function Verifications({ rows }: { rows: Overview["verifications"] }) {
  if (rows.length === 0) return null;
  return (
    <section data-testid="verifications">
      <h2 className="mb-2 font-semibold">Post-merge verification</h2>
      <ul className="space-y-2">
        {rows.map((v) => (
          <li
            key={v.id}
            className={`rounded border p-3 text-sm ${VERIFICATION_STYLE[v.state] ?? ""}`}
            data-testid="verification"
            data-state={v.state}
          >
            <div className="break-words">
              <strong>{v.state}</strong> · {v.repo}/{v.targetBranch} · tip{" "}
              <code>{v.headCommit.slice(0, 10)}</code> · {v.steps.length} check run
              {v.steps.length === 1 ? "" : "s"} · <Age at={v.createdAt} />
            </div>
            {v.reason && <div className="mt-1">{v.reason}</div>}
            {v.culpritEntryId !== null && (
              <div className="mt-1">
                Culprit: <EntryLink id={v.culpritEntryId} />
                {v.revertEntryId !== null && (
                  <>
                    {" "}
                    · its revert: <EntryLink id={v.revertEntryId} />
                  </>
                )}
              </div>
            )}
            {v.state !== "passed" && v.state !== "running" && v.output && (
              <pre className="mt-2 max-h-40 overflow-auto rounded bg-white p-2 text-xs">
                {v.output}
              </pre>
            )}
          </li>
        ))}
      </ul>
    </section>
  );
}
