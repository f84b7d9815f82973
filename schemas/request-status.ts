import { z } from "zod";

export const requestStatuses = [
  "received",
  "needs_clarification",
  "planned",
  "in_progress",
  "done",
  "failed",
  "cancelled",
] as const;
export const RequestStatus = z.enum(requestStatuses);
export type RequestStatus = z.infer<typeof RequestStatus>;
