import { z } from "zod";
import { branchName } from "./branch";
import { GitIdentity } from "./identity";

export const risks = ["low", "medium", "high"] as const;
export const Risk = z.enum(risks);
export type Risk = z.infer<typeof Risk>;

export const DEFAULT_MAX_PATCH_BYTES = 5 * 1024 * 1024;
export const MAX_CHANGES_PER_CALL = 100;

const sha = z.string().regex(/^[0-9a-f]{40}$/, "must be a full 40-character commit sha");

/** A task id: Hyperion's own ("12.3") or an agent's; safe in a file, a trailer or a log line. */
export const TASK_ID = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,99}$/;

/**
 * A change that wants to land: a task's patch (as `git diff --binary --full-index` writes it)
 * with who made it and what must pass first. The server assigns the id.
 */
export const ChangeRequest = z.strictObject({
  taskId: z
    .string()
    .regex(TASK_ID, "must be 1-100 letters, digits, '.', '_', ':' or '-'")
    .optional(),
  repo: z.string().min(1, "is required"),
  targetBranch: branchName.optional(),
  baseCommit: sha.optional(),
  patch: z.string().min(1, "is required"),
  summary: z.string().trim().min(1, "is required").max(2000),
  /** As git accepts it (schemas/identity.ts): `dependabot[bot]`'s noreply address included. */
  author: GitIdentity,
  checks: z.array(z.string().trim().min(1).max(1000)).max(20).optional(),
  risk: Risk.default("low"),
  dryRun: z.boolean().default(false),
});

export type ChangeRequestInput = z.input<typeof ChangeRequest>;
export type ChangeRequest = z.output<typeof ChangeRequest>;

export function parseChangeRequestBatch(input: unknown) {
  const schema = Array.isArray(input)
    ? z
        .array(ChangeRequest)
        .min(1, "must hold at least one change request")
        .max(
          MAX_CHANGES_PER_CALL,
          `must hold at most ${MAX_CHANGES_PER_CALL} change requests per call; split it into several`,
        )
    : ChangeRequest;
  const result = schema.safeParse(input);
  if (!result.success) return { success: false as const, error: result.error };
  return { success: true as const, data: Array.isArray(result.data) ? result.data : [result.data] };
}
