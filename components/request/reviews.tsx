import type { RequestDetail } from "@/server/views/request-detail";
import { ChangeLabel, TaskLink } from "../ids";

/** Reviewers' decisions on the request's changes: a rejection with its reason and what followed. */
export function Reviews({ reviews }: { reviews: RequestDetail["reviews"] }) {
  return (
    <section data-testid="request-reviews">
      <h2 className="mb-2 font-semibold">Reviews</h2>
      <ul className="space-y-2 text-sm">
        {reviews.map((r) =>
          r.decision === "rejected" ? (
            <li
              key={r.id}
              className="rounded border border-red-200 bg-red-50 p-2"
              data-testid="review-rejected"
            >
              <ChangeLabel id={r.changeRequestId} /> (task <TaskLink id={r.taskId} />) was rejected
              by {r.reviewer}: <span className="font-medium">“{r.comment}”</span>
              {" — "}
              {r.next === "close"
                ? "The task was closed."
                : r.agent
                  ? `The task was handed to the ${r.agent} agent with this reason.`
                  : "The task went back to an agent with this reason."}
            </li>
          ) : (
            <li key={r.id} className="rounded bg-white p-2" data-testid="review-approved">
              <ChangeLabel id={r.changeRequestId} /> (task <TaskLink id={r.taskId} />) was approved
              by {r.reviewer}
              {r.comment ? `: “${r.comment}”` : ""}
              {r.voidedReason && (
                <span className="block text-amber-800">
                  This approval was voided: {r.voidedReason}.
                </span>
              )}
            </li>
          ),
        )}
      </ul>
    </section>
  );
}
