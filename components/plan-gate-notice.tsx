import Link from "next/link";
import type { ShutPlanGate } from "@/server/views/plans";

/**
 * The repositories whose plan gate holds their tasks back: why, and what to do. Shown on every
 * page that lists a repository's requests or tasks (the board, a request, the queue).
 */
export function PlanGateNotice({ gates }: { gates: ShutPlanGate[] }) {
  if (!gates.length) return null;
  return (
    <div
      role="status"
      data-testid="plan-gate-notice"
      className="mb-4 space-y-1 rounded border border-amber-300 bg-amber-50 p-3 text-sm text-amber-950"
    >
      {gates.map((g) => (
        <p key={g.repo}>
          <strong>{g.repo}: no task is dispatched.</strong> {g.reason}. To open the gate: {g.fix}.{" "}
          <Link href={`/plans#plan-${g.repo}`} className="underline">
            Plan of {g.repo}
          </Link>
        </p>
      ))}
    </div>
  );
}
