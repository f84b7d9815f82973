import { z } from "zod";
import { Risk } from "./change-request";
import { repoPath } from "./paths";
import { requestKinds } from "./task-request";

/**
 * What an agent acting as the Engineer answers: its final message is one JSON object of this
 * shape. Either a scoped spec (kind, areas, files, risk, acceptance) or questions back to the
 * requester. Checks are not in it: they come from the repository's policy, never from a model.
 */
export const EngineerAnswer = z.strictObject({
  kind: z.enum(requestKinds),
  areas: z.array(z.string().min(1).max(200)).max(50),
  files: z.array(repoPath).max(500),
  risk: Risk,
  acceptance: z.array(z.string().trim().min(1).max(2000)).max(50),
  questions: z.array(z.string().trim().min(1).max(2000)).max(20).default([]),
});
export type EngineerAnswer = z.output<typeof EngineerAnswer>;
