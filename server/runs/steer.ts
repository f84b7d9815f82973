import { markSteerApplied, waitingSteers } from "@/server/runs/steers";
import type { AgentSession } from "../agents/harness";
import type { RunContext, Stop } from "./context";

/** Steering commands waiting for this run, applied once each (idempotent by source event id). */
export async function applySteers(
  ctx: RunContext,
  runId: number,
  session: AgentSession,
  stopFor: (s: Stop) => void,
) {
  for (const s of await waitingSteers(ctx.db, runId)) {
    let outcome: string;
    if (s.command === "append_context") {
      outcome = session.steer(s.reason)
        ? "delivered to the running session"
        : "this agent takes context only at a restart: it will be in the next session's prompt";
    } else {
      await stopFor({ kind: "requeue", reason: `${s.command}: ${s.reason}` });
      outcome = "stopping the run; the task goes back to pending";
    }
    await ctx.db.transaction(async (tx) => markSteerApplied(tx, s, runId, outcome));
  }
}
