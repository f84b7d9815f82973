import { z } from "zod";
import { MineFilter } from "./mine";
import { RequestStatus } from "./request-status";
import { requestKinds, TITLE_MAX } from "./task-request";

/** The orders the history can be read in; each has a keyset (its key, then the id). */
export const historySorts = ["new", "old", "updated", "title"] as const;
export const HistorySort = z.enum(historySorts);
export type HistorySort = z.infer<typeof HistorySort>;

export const historySortLabels: Record<HistorySort, string> = {
  new: "Newest first",
  old: "Oldest first",
  updated: "Recently updated",
  title: "Title A–Z",
};

export const HISTORY_PAGE_SIZE = 50;
export const HISTORY_LIMIT_MAX = 100;
/** No title is longer, so a longer search could never match. */
export const HISTORY_Q_MAX = TITLE_MAX;

/**
 * A read of the task history: filters that apply together, an order, and a page. `cursor` is
 * the opaque string a previous answer gave as `next` or `prev`; it is only valid with the sort
 * it was made for.
 */
export const HistoryQuery = z.strictObject({
  q: z
    .string()
    .max(HISTORY_Q_MAX, `search is at most ${HISTORY_Q_MAX} characters (no title is longer)`)
    .optional(),
  status: RequestStatus.optional(),
  repo: z.string().max(200).optional(),
  kind: z.enum(requestKinds).optional(),
  /** Only the caller's: the requests they filed, or those waiting for them (schemas/mine.ts). */
  mine: MineFilter.optional(),
  sort: HistorySort.default("new"),
  cursor: z.string().max(1000).optional(),
  limit: z
    .number()
    .int()
    .min(1, "limit is at least 1")
    .max(HISTORY_LIMIT_MAX, `limit is at most ${HISTORY_LIMIT_MAX}`)
    .default(HISTORY_PAGE_SIZE),
});
export type HistoryQuery = z.infer<typeof HistoryQuery>;
export type HistoryQueryInput = z.input<typeof HistoryQuery>;

/** What the /history URL asked for, as text: the form shows it back and the links keep it. */
export type HistoryValues = {
  q: string;
  status: string;
  repo: string;
  kind: string;
  mine: string;
  sort: string;
};

/** A /history address for these values; defaults are left out so the address stays short. */
export function historyHref(values: Partial<HistoryValues>, cursor?: string | null): string {
  const query = new URLSearchParams();
  for (const key of ["q", "status", "repo", "kind", "mine", "sort"] as const) {
    const value = values[key]?.trim();
    if (value && !(key === "sort" && value === "new")) query.set(key, value);
  }
  if (cursor) query.set("cursor", cursor);
  const qs = query.toString();
  return qs ? `/history?${qs}` : "/history";
}
