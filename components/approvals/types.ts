import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/trpc/root";

/** The changes waiting for a reviewer, as approval.list returns them (server/approvals). */
export type Waiting = inferRouterOutputs<AppRouter>["approval"]["list"];
export type WaitingEntry = Waiting[number];
export type Tier = WaitingEntry["tier"];
