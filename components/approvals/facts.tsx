import { RequestLink, RunLink } from "../ids";
import { tierInWords } from "./risk";
import type { WaitingEntry } from "./types";

const short = (sha: string) => sha.slice(0, 8);

/** What a reviewer weighs: where it lands, its request and task, its checks, approvals and patch. */
export function ApprovalFacts({ item }: { item: WaitingEntry }) {
  const { change, tier } = item;
  const files = item.task?.files ?? [];
  return (
    <dl className="mt-3 grid grid-cols-[9rem_1fr] gap-x-3 gap-y-1 text-sm">
      <dt className="text-slate-500">Repository</dt>
      <dd>
        {item.repo} → <code>{item.targetBranch}</code>
      </dd>
      <dt className="text-slate-500">Request</dt>
      <dd>
        {item.request ? <RequestLink id={item.request.id} title={item.request.title} /> : "—"}
      </dd>
      <dt className="text-slate-500">Task</dt>
      <dd>
        {item.task ? (
          <>
            <code className="text-xs">{item.task.id}</code> {item.task.title}
          </>
        ) : (
          "—"
        )}
      </dd>
      <dt className="text-slate-500">Area</dt>
      <dd>{item.task?.area ?? "—"}</dd>
      <dt className="text-slate-500">Files</dt>
      <dd className="font-mono text-xs" data-testid="approval-files">
        {files.length ? files.join(", ") : "—"}
      </dd>
      <dt className="text-slate-500">Checks</dt>
      <dd data-testid="approval-checks">
        <Checks item={item} />
      </dd>
      <dt className="text-slate-500">Approvals</dt>
      <dd data-testid="approval-progress">
        {item.approvedBy.length} of {tier.approvals}
        {item.approvedBy.length > 0 && (
          <ul className="text-xs text-slate-600">
            {item.approvedBy.map((a) => (
              <li key={a.reviewer}>
                {a.reviewer}
                {a.comment ? `: “${a.comment}”` : ""}
              </li>
            ))}
          </ul>
        )}
      </dd>
      <dt className="text-slate-500">Needs</dt>
      <dd data-testid="approval-tier">{tierInWords(change.risk, tier)}</dd>
      <dt className="text-slate-500">Patch</dt>
      <dd className="font-mono text-xs" title={change.patchHash}>
        sha256 {change.patchHash.slice(0, 12)} · {change.patchBytes.toLocaleString("en")} bytes
        {change.runId !== null && (
          <>
            {" · "}
            <RunLink id={change.runId} />
          </>
        )}
      </dd>
    </dl>
  );
}

/** The checks that passed, and on which tip; or why there were none in the queue. */
function Checks({ item }: { item: WaitingEntry }) {
  const { change } = item;
  if (change.checks.length === 0)
    return change.runId !== null
      ? `none in the queue: its agent run (#${change.runId}) ran the task's checks before submitting it`
      : "none named for this change";
  return (
    <>
      <ul className="flex flex-wrap gap-2">
        {change.checks.map((c) => (
          <li key={c} className="rounded bg-green-50 px-1.5 text-green-800">
            ✓ <span className="font-mono text-xs">{c}</span> passed
          </li>
        ))}
      </ul>
      {item.checkedOn && (
        <span className="text-xs text-slate-600">
          checks passed on <code>{short(item.checkedOn)}</code>; if {item.targetBranch} has moved
          when it is approved, they run again on the new tip
        </span>
      )}
    </>
  );
}
