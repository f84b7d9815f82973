import { z } from "zod";

export const requestStatuses = [
  "received",
  "needs_clarification",
  "needs_attention",
  "planned",
  "in_progress",
  /** A change of its waits for a reviewer (derived from its tasks' changes, like in_progress). */
  "awaiting_approval",
  "done",
  "failed",
  "cancelled",
  "rolled_back",
] as const;
export const RequestStatus = z.enum(requestStatuses);
export type RequestStatus = z.infer<typeof RequestStatus>;
