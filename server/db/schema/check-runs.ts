import { index, integer, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Where a check ran: at landing, on the candidate that lands; or in an agent's workspace. */
export type CheckRunPlace = "landing" | "workspace";
export type CheckRunOutcome = "passed" | "failed" | "timed_out";

/**
 * One check run on one exact commit. At landing these are the record of what passed on what
 * lands (and a result re-used only for the same commit); in a workspace they are the agent's
 * own, recorded on its run, and never stand in for the landing's.
 */
export const checkRuns = sqliteTable(
  "check_runs",
  {
    id: integer().primaryKey({ autoIncrement: true }),
    place: text().$type<CheckRunPlace>().notNull(),
    repo: text().notNull(),
    commit: text().notNull(),
    check: text().notNull(),
    outcome: text().$type<CheckRunOutcome>().notNull(),
    durationMs: integer("duration_ms").notNull(),
    entryId: integer("entry_id"),
    changeRequestId: integer("change_request_id"),
    runId: integer("run_id"),
    outputTail: text("output_tail"),
    at: integer().notNull(),
  },
  (t) => [
    index("check_runs_commit_idx").on(t.commit, t.check),
    index("check_runs_entry_idx").on(t.entryId),
    index("check_runs_run_idx").on(t.runId),
  ],
);
