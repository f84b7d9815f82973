import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/trpc/root";

/** What /queue shows, as the queue.overview procedure returns it (server/views/board.ts). */
export type Overview = inferRouterOutputs<AppRouter>["queue"]["overview"];
export type LogRow = Overview["recent"][number];
export type Quarantined = Overview["quarantined"][number];
export type Moving = Overview["moving"][number];
