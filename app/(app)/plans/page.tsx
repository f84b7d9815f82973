import { DiffViewer } from "@/components/diff-viewer";
import { PlanApproveButton } from "@/components/plan-approve";
import { requirePageUser } from "@/server/auth/session";
import { currentConfig } from "@/server/config/load";
import { runtime } from "@/server/runtime";
import { planPage } from "@/server/views/plans";

export const metadata = { title: "Plans" };
export const dynamic = "force-dynamic";

const stateText = {
  open: "Approved: tasks are dispatched",
  problem: "Gate shut: the plan has a problem",
  unapproved: "Gate shut: waiting for an admin's first approval",
  changed: "Gate shut: changed since an admin approved it",
} as const;

/**
 * Each repository's plan gate (policy `plan`): its state, why it is shut and what to do, and
 * the diff from the approved text to the current one; admins approve the text shown.
 */
export default async function PlansPage() {
  const user = await requirePageUser("/plans");
  const { db, env } = runtime();
  const { plans, canApprove } = await planPage(db, currentConfig(env.configPath), user);
  return (
    <section className="space-y-6">
      <h1 className="text-2xl font-semibold">Plans</h1>
      {plans.length === 0 && (
        <p className="text-sm text-slate-700">
          No repository's policy names a plan file (
          <code>&quot;plan&quot;: &quot;WORKPLAN.md&quot;</code>
          ), so no plan gate holds any task.
        </p>
      )}
      {plans.map((p) => (
        <article
          key={p.repo}
          id={`plan-${p.repo}`}
          data-testid={`plan-${p.repo}`}
          className="space-y-3 rounded border border-slate-200 bg-white p-4"
        >
          <h2 className="text-lg font-semibold">
            {p.repo}: {p.file} on {p.branch}
          </h2>
          <p
            data-testid="plan-state"
            className={`text-sm font-medium ${p.state === "open" ? "text-green-800" : "text-amber-900"}`}
          >
            {stateText[p.state]}
          </p>
          {p.reason && (
            <p role="status" data-testid="plan-reason" className="text-sm break-words">
              {p.reason}. To open the gate: {p.fix}.
            </p>
          )}
          {p.problems.length > 1 && (
            <ul className="list-disc pl-5 text-sm">
              {p.problems.slice(1).map((x) => (
                <li key={x.message}>{x.message}</li>
              ))}
            </ul>
          )}
          <dl className="grid grid-cols-[max-content_minmax(0,1fr)] gap-x-3 gap-y-1 text-sm break-words">
            {p.meta && (
              <>
                <dt className="text-slate-600">Approval pattern</dt>
                <dd>
                  <code>{p.meta.approvalPattern}</code>
                </dd>
                <dt className="text-slate-600">Required sections</dt>
                <dd>{p.meta.requiredSections.join(", ") || "none"}</dd>
                <dt className="text-slate-600">Validation checks</dt>
                <dd>{p.meta.validation.join(", ") || "none"}</dd>
              </>
            )}
            <dt className="text-slate-600">Read at</dt>
            <dd>
              <code>{p.commit?.slice(0, 12) ?? "no commit"}</code>
            </dd>
            <dt className="text-slate-600">Approved</dt>
            <dd>
              {p.approved
                ? `by ${p.approved.approvedByEmail ?? `user ${p.approved.approvedBy}`} at ${p.approved.commitId.slice(0, 12)}`
                : "never"}
            </dd>
          </dl>
          {p.diff && (
            <div className="space-y-2">
              <h3 className="font-medium">
                {p.approved ? "Changes since the approved text" : "The whole text, never approved"}
              </h3>
              <DiffViewer patch={p.diff} />
            </div>
          )}
          {canApprove && p.textHash && (p.state === "unapproved" || p.state === "changed") && (
            <PlanApproveButton repo={p.repo} file={p.file} textHash={p.textHash} />
          )}
          {!canApprove && (p.state === "unapproved" || p.state === "changed") && (
            <p className="text-sm text-slate-700">Only an admin approves a plan.</p>
          )}
        </article>
      ))}
    </section>
  );
}
