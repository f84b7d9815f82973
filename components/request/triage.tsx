import { reasonText } from "@/schemas/labels";
import type { RequestDetail } from "@/server/views/request-detail";
import { ReasonText } from "../reason-text";

/**
 * Tasks the dispatcher sent back to triage (no area the policy knows): why, and who completes
 * the spec. Shown while the request needs attention.
 */
export function BackToTriage({
  tasks,
  canRescope,
}: {
  tasks: RequestDetail["tasks"];
  canRescope: boolean;
}) {
  if (tasks.length === 0) return null;
  return (
    <section className="rounded border border-amber-300 bg-amber-50 p-4" data-testid="triage">
      <h2 className="mb-2 font-semibold">Back to triage</h2>
      <ul className="list-disc pl-5 text-sm">
        {tasks.map((t) => (
          <li key={t.id}>
            R{t.id}: <ReasonText text={reasonText(t.blockedReason ?? "")} />
          </li>
        ))}
      </ul>
      <p className="mt-2 text-sm text-orange-900">
        {canRescope
          ? "Re-scope the request (Edit request…): give its files an area of the policy."
          : "A reviewer or operator will re-scope it."}
      </p>
    </section>
  );
}
