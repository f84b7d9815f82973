import { z } from "zod";

export const taskStates = [
  "pending",
  "claimed",
  "submitted",
  "done",
  "failed",
  "triage",
  "superseded",
] as const;
export const TaskState = z.enum(taskStates);
export type TaskState = z.infer<typeof TaskState>;
