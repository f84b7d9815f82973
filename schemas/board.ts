import { z } from "zod";
import { MineFilter } from "./mine";
import type { RequestStatus } from "./request-status";
import { requestKinds } from "./task-request";

/** The board's columns, left to right: each holds the requests in these statuses. */
export const boardColumns = [
  { key: "received", label: "Received", statuses: ["received"] },
  {
    key: "person",
    label: "Waiting for a person",
    statuses: ["needs_clarification", "needs_attention"],
  },
  { key: "planned", label: "Planned", statuses: ["planned"] },
  { key: "in_progress", label: "In progress", statuses: ["in_progress"] },
  {
    key: "awaiting_approval",
    label: "Waiting for approval",
    statuses: ["awaiting_approval"],
  },
  { key: "done", label: "Done", statuses: ["done"] },
  { key: "failed", label: "Failed", statuses: ["failed"] },
  { key: "ended", label: "Cancelled or rolled back", statuses: ["cancelled", "rolled_back"] },
] as const satisfies readonly { key: string; label: string; statuses: readonly RequestStatus[] }[];

/** How many cards a column shows (the newest updated first); its count says how many in all. */
export const BOARD_COLUMN_LIMIT = 25;
export const BOARD_REPO_MAX = 200;

/** The board's filters: they apply together. Unknown values are a 400 naming the field. */
export const BoardQuery = z.strictObject({
  repo: z
    .string()
    .min(1, "name a repository, or leave it out")
    .max(BOARD_REPO_MAX, `at most ${BOARD_REPO_MAX} characters`)
    .optional(),
  kind: z.enum(requestKinds, { error: `one of ${requestKinds.join(", ")}` }).optional(),
  mine: MineFilter.optional(),
});
export type BoardQuery = z.infer<typeof BoardQuery>;

/** What the /board URL asked for, as text. */
export type BoardValues = { repo: string; kind: string; mine: string };

/** A /board address for these values; empty ones are left out. */
export function boardHref(values: Partial<BoardValues>): string {
  const query = new URLSearchParams();
  for (const key of ["repo", "kind", "mine"] as const) {
    const value = values[key]?.trim();
    if (value) query.set(key, value);
  }
  const qs = query.toString();
  return qs ? `/board?${qs}` : "/board";
}
