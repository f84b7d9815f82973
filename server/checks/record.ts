import { and, eq, inArray } from "drizzle-orm";
import type { DbLike } from "@/server/db/client";
import { type CheckRunPlace, checkRuns } from "@/server/db/schema";
import type { CheckRan } from "./checks";

// The record of checks run on exact commits: what passed on what lands, what an agent ran in its
// own workspace, and how long each check takes (the queue's estimates read it).

export type CheckRunOf = {
  place: CheckRunPlace;
  repo: string;
  commit: string;
  entryId?: number;
  changeRequestId?: number;
  runId?: number;
};

export async function recordCheckRuns(
  db: DbLike,
  of: CheckRunOf,
  ran: CheckRan[],
  at = Date.now(),
) {
  for (const r of ran)
    await db.insert(checkRuns).values({
      place: of.place,
      repo: of.repo,
      commit: of.commit,
      check: r.check,
      outcome: r.outcome,
      durationMs: r.durationMs,
      entryId: of.entryId ?? null,
      changeRequestId: of.changeRequestId ?? null,
      runId: of.runId ?? null,
      outputTail: r.outputTail ?? null,
      at,
    });
}

/**
 * The checks that passed at landing on this exact commit — all of them, or those among `only`
 * (a candidate rebuilt after a crash that came out the same need not run them again). A result
 * on any other commit, or from a workspace, never counts.
 */
export async function passedAtLanding(
  db: DbLike,
  commit: string,
  only?: string[],
): Promise<Set<string>> {
  if (only?.length === 0) return new Set();
  return new Set(
    (
      await db
        .select({ check: checkRuns.check })
        .from(checkRuns)
        .where(
          and(
            eq(checkRuns.commit, commit),
            eq(checkRuns.place, "landing"),
            eq(checkRuns.outcome, "passed"),
            only ? inArray(checkRuns.check, only) : undefined,
          ),
        )
    ).map((r) => r.check),
  );
}
