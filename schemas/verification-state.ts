import { z } from "zod";

export const verificationStates = [
  "running",
  "passed",
  "flaky",
  "culprit",
  "failed",
  "error",
] as const;
export const VerificationState = z.enum(verificationStates);
export type VerificationState = z.infer<typeof VerificationState>;
