import { z } from "zod";

export const runStates = [
  "starting",
  "running",
  "checking",
  "submitted",
  "no_change",
  "failed",
  "stopped",
  "lost",
] as const;
export const RunState = z.enum(runStates);
export type RunState = z.infer<typeof RunState>;
