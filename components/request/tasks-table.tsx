import Link from "next/link";
import { reasonText } from "@/schemas/labels";
import type { RequestDetail } from "@/server/views/request-detail";
import { ChangeLabel, CommitLink, EntryLink, TaskLink } from "../ids";
import { ReasonText } from "../reason-text";
import { Cell, StackedHead, stacked } from "../stacked-table";
import { StatusBadge } from "../status-badge";
import { TaskGraph } from "../task-graph";

type Change = RequestDetail["changes"][number];

/** The request's tasks: their graph, then a row each with its state, files, lease and change. */
export function TasksTable({
  tasks,
  changes,
  webUrl,
  canReview,
}: {
  tasks: RequestDetail["tasks"];
  changes: RequestDetail["changes"];
  webUrl?: string;
  /** A reviewer who may decide goes to /approvals; anyone else to the read-only diff above. */
  canReview: boolean;
}) {
  return (
    <section>
      <h2 className="mb-2 font-semibold">Task graph</h2>
      <TaskGraph tasks={tasks} />
      <table className={`mt-3 ${stacked.table}`} data-testid="task-table">
        <StackedHead columns={["Task", "Area", "State", "Files", "Lock keys", "Lease", "Change"]} />
        <tbody className={stacked.tbody}>
          {tasks.map((t) => (
            <tr
              key={t.id}
              id={`task-${t.id}`}
              className={`${stacked.row} align-top`}
              data-testid="task-row"
            >
              <Cell label="Task">
                <TaskLink id={t.id} />
              </Cell>
              <Cell label="Area">{t.area}</Cell>
              <Cell label="State">
                <StatusBadge status={t.state} />
                {t.blockedReason && (
                  <div className="text-xs text-amber-800" data-testid="task-blocked-reason">
                    <ReasonText text={reasonText(t.blockedReason)} />
                  </div>
                )}
                {t.noChangeReason && (
                  <div className="text-xs text-slate-700" data-testid="task-no-change">
                    No change needed: {t.noChangeReason}
                  </div>
                )}
              </Cell>
              <Cell label="Files" className="font-mono text-xs">
                {t.neededFiles.join(", ")}
              </Cell>
              <Cell label="Lock keys" className="font-mono text-xs">
                {t.lockKeys.join(", ")}
              </Cell>
              <Cell label="Lease" className="text-xs">
                {t.leaseOwner ?? "—"}
              </Cell>
              <Cell label="Change" className="text-xs" data-testid="task-change">
                <TaskChange
                  change={changes.find((c) => c.id === t.changeRequestId)}
                  webUrl={webUrl}
                  canReview={canReview}
                />
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}

/** A task's change: waiting for a reviewer, or its state and commit; then its revert, if any. */
function TaskChange({
  change,
  webUrl,
  canReview,
}: {
  change: Change | undefined;
  webUrl?: string;
  canReview: boolean;
}) {
  return (
    <>
      {change?.state === "awaiting_approval" ? (
        <>
          <ChangeLabel id={change.id} /> <EntryLink id={change.entryId} />{" "}
          <Link
            href={canReview ? `/approvals#entry-${change.entryId}` : `#waiting-C${change.id}`}
            className="text-amber-800 underline"
            data-testid="awaiting-approval"
          >
            waiting for approval
          </Link>
        </>
      ) : change ? (
        <span className="flex flex-wrap items-center gap-1">
          <ChangeLabel id={change.id} /> <EntryLink id={change.entryId} />{" "}
          <StatusBadge status={change.state} />
          {change.mergedCommit && <CommitLink sha={change.mergedCommit} webUrl={webUrl} />}
        </span>
      ) : (
        "—"
      )}
      {change?.revert && (
        <div className="text-rose-800" data-testid="task-revert">
          reverted by <ChangeLabel id={change.revert.id} /> <EntryLink id={change.revert.entryId} />{" "}
          ({change.revert.state.replaceAll("_", " ")}
          {change.revert.mergedCommit && (
            <>
              {" "}
              <CommitLink sha={change.revert.mergedCommit} webUrl={webUrl} />
            </>
          )}
          )
        </div>
      )}
    </>
  );
}
