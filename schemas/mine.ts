import { z } from "zod";

/**
 * "Mine", on the board and the history: the requests I filed, or those waiting for me — a
 * question on my own request, one whose question came back (for whoever re-scopes), a change
 * waiting for my approval (for reviewers; never on a request I filed).
 */
export const mineFilters = ["filed", "waiting"] as const;
export const MineFilter = z.enum(mineFilters);
export type MineFilter = z.infer<typeof MineFilter>;

export const mineLabels: Record<MineFilter, string> = {
  filed: "Filed by me",
  waiting: "Waiting for me",
};
