import Link from "next/link";
import { Age } from "../age";
import { ChangeLabel, EntryLink, RequestLink, TaskLink } from "../ids";
import { ReasonText } from "../reason-text";
import { Cell, EmptyRow, StackedHead, stacked } from "../stacked-table";
import { StatusBadge } from "../status-badge";
import type { Overview } from "./types";

type Waiting = Overview["waitingToStart"];
type Holder = Waiting["tasks"][number]["waitsFor"][number];

/** What the task it waits for is doing: its change waits for a reviewer, or its state. */
function HolderNow({ h }: { h: Holder }) {
  if (h.change?.state === "awaiting_approval")
    return (
      <span data-testid="held-by-review">
        <TaskLink id={h.taskId} />: its change <ChangeLabel id={h.change.id} />{" "}
        <Link className="underline" href={`/approvals#entry-${h.change.entryId}`}>
          waits for a reviewer
        </Link>
      </span>
    );
  return (
    <span>
      <TaskLink id={h.taskId} />: <StatusBadge status={h.state} />
      {h.change && (
        <>
          {" "}
          change <ChangeLabel id={h.change.id} /> <EntryLink id={h.change.entryId} />{" "}
          <StatusBadge status={h.change.state} />
        </>
      )}
    </span>
  );
}

/**
 * Tasks of planned requests that cannot start yet, each with what it waits for: without this a
 * request sits at "Planned" and /queue shows nothing of why.
 */
export function WaitingToStartSection({ waiting }: { waiting: Waiting }) {
  return (
    <section aria-labelledby="waiting-start-heading">
      <h2 id="waiting-start-heading" className="mb-2 font-semibold">
        Waiting to start ({waiting.total})
      </h2>
      <table className={stacked.table} data-testid="waiting-to-start">
        <StackedHead columns={["Task", "Request", "Waiting for", "Since"]} />
        <tbody className={stacked.tbody}>
          {waiting.tasks.length === 0 && (
            <EmptyRow colSpan={4}>No task is waiting on another task or its locks.</EmptyRow>
          )}
          {waiting.tasks.map((t) => (
            <tr key={t.id} className={stacked.row} data-testid="waiting-task" data-task={t.id}>
              <Cell label="Task">
                <TaskLink id={t.id} />
              </Cell>
              <Cell label="Request" className="[overflow-wrap:anywhere]">
                <RequestLink id={t.request.id} title={t.request.title} />
              </Cell>
              <Cell label="Waiting for" className="[overflow-wrap:anywhere]">
                <div data-testid="waiting-reason">
                  <ReasonText text={t.reason} />
                </div>
                {t.waitsFor.map((h) => (
                  <div key={h.taskId} className="text-xs text-slate-700">
                    <HolderNow h={h} />
                  </div>
                ))}
              </Cell>
              <Cell label="Since">
                <Age at={t.since} />
              </Cell>
            </tr>
          ))}
        </tbody>
      </table>
      {waiting.total > waiting.tasks.length && (
        <p className="mt-1 text-sm text-slate-600">
          Showing the oldest {waiting.tasks.length} of {waiting.total}.
        </p>
      )}
    </section>
  );
}
