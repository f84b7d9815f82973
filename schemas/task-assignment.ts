import { z } from "zod";
import { Risk } from "./change-request";
import { Limits } from "./policy";
import { requestKinds } from "./task-request";

/** What the Engineer makes of a request: a scoped spec, or questions back to the requester. */
export const Spec = z.strictObject({
  kind: z.enum(requestKinds),
  risk: Risk,
  areas: z.array(z.string()),
  files: z.array(z.string()),
  /** The requester's acceptance criteria: prose for the developer, never executed. */
  acceptance: z.array(z.string()),
  /** The policy checks the change must pass (names in the repository's policy). */
  checks: z.array(z.string()).default([]),
  contextTokens: z.number().int().min(0),
  /**
   * Paths only the description names, while the requester's files or areas gave the scope:
   * shown on the request page as suggestions, not part of the scope.
   */
  suggestedFiles: z.array(z.string()).optional(),
});
export type Spec = z.infer<typeof Spec>;

/** One unit of work for a developer agent, with the locks it must hold. */
export const TaskAssignment = z.strictObject({
  id: z.string(),
  requestId: z.number().int().positive(),
  repo: z.string(),
  area: z.string(),
  neededFiles: z.array(z.string()).min(1),
  lockScope: z.enum(["area", "files"]),
  lockKeys: z.array(z.string()).min(1),
  dependsOn: z.array(z.string()),
  acceptance: z.array(z.string()),
  prompt: z.strictObject({
    title: z.string(),
    instructions: z.string(),
    constraints: z.array(z.string()),
  }),
  limits: Limits,
  contextTokens: z.number().int().min(0),
});
export type TaskAssignment = z.infer<typeof TaskAssignment>;
