import { z } from "zod";
import { repoPath } from "./paths";

export const requestKinds = ["feature", "bugfix", "refactor", "docs", "test", "chore"] as const;
export const priorities = ["low", "normal", "high"] as const;

export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 20_000;

const requestId = z.number().int("must be a whole number").positive("must be a request id");

/**
 * What a person asks for. `repo` is checked against the configuration by
 * `taskRequestFor(repoNames)`; the plain schema is the published contract.
 */
export const TaskRequest = z.strictObject({
  title: z
    .string()
    .trim()
    .min(1, "is required")
    .max(TITLE_MAX, `must be at most ${TITLE_MAX} characters`),
  description: z.string().max(DESCRIPTION_MAX, `must be at most ${DESCRIPTION_MAX} characters`),
  repo: z.string().min(1, "is required"),
  kind: z.enum(requestKinds).optional(),
  priority: z.enum(priorities).default("normal"),
  areas: z.array(z.string().trim().min(1, "must not be empty").max(100)).max(50).default([]),
  files: z.array(repoPath).max(500).default([]),
  dependsOn: z.array(requestId).max(100).default([]),
  acceptance: z.array(z.string().trim().min(1, "must not be empty").max(1000)).max(50).default([]),
});

export type TaskRequestInput = z.input<typeof TaskRequest>;
export type TaskRequest = z.output<typeof TaskRequest>;

export function taskRequestFor(repoNames: readonly string[]) {
  // A field-level check, so an unknown repository is reported together with other problems.
  return TaskRequest.extend({
    repo: z
      .string()
      .min(1, "is required")
      .refine((repo) => repoNames.includes(repo), {
        error: (issue) =>
          `unknown repository '${String(issue.input)}'; configured: ${repoNames.join(", ") || "(none)"}`,
      }),
  });
}

/** A file for `hyperion request` holds one TaskRequest or an array of them (all-or-nothing). */
export function parseTaskRequestBatch(input: unknown, repoNames: readonly string[]) {
  const one = taskRequestFor(repoNames);
  const schema = Array.isArray(input) ? z.array(one).min(1, "must hold at least one request") : one;
  const result = schema.safeParse(input);
  if (!result.success) return { success: false as const, error: result.error };
  const data = Array.isArray(result.data) ? result.data : [result.data];
  return { success: true as const, data };
}
