import { z } from "zod";
import { globProblem } from "@/server/glob/parse";
import { AgentPolicy } from "./agents";
import { Risk } from "./change-request";
import { splitCommandLine } from "./command-line";
import { repoPath } from "./paths";
import { DEFAULT_RUN_LIMITS, RunLimits } from "./run-limits";
import { requestKinds } from "./task-request";

/**
 * A repository's policy: its areas (coarse lock partitions, after the seed's area tables), the
 * limits a task must stay within, how to validate work, and which kinds need QA.
 * Where area globs overlap, the first area listed wins (`hyperion start` reports overlaps).
 */
export const Area = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9-]{0,39}$/, "must be 1-40 lowercase letters, digits or '-'"),
  paths: z
    .array(
      z
        .string()
        .min(1)
        .superRefine((glob, ctx) => {
          const problem = globProblem(glob);
          if (problem) ctx.addIssue({ code: "custom", message: problem });
        }),
    )
    .min(1, "must list at least one glob"),
  risk: Risk.default("medium"),
  /** `area`: one task in the area at a time; `files`: tasks share the area when files differ. */
  lockScope: z.enum(["area", "files"]).default("area"),
});

export const Limits = z.strictObject({
  maxFilesPerTask: z.number().int().min(1).max(200).default(8),
  maxContextTokens: z.number().int().min(1000).default(60_000),
  maxTasksPerRequest: z.number().int().min(1).max(200).default(20),
});

export const CHECK_NAME = /^[a-z0-9][a-z0-9._:-]{0,63}$/;
const CheckName = z
  .string()
  .regex(CHECK_NAME, "must be 1-64 lowercase letters, digits, '.', '_', ':' or '-'");

/**
 * A check the repository's owner defines: a command line (split into arguments, never given to a
 * shell) run in a confined copy of the candidate commit. Only the policy defines commands; a
 * request or a change request can only name them.
 */
const CommandLine = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(1000)
  .superRefine((line, ctx) => {
    const split = splitCommandLine(line);
    if ("problem" in split) ctx.addIssue({ code: "custom", message: split.problem });
  });

export const CheckDef = z.union([
  CommandLine,
  z.strictObject({
    run: CommandLine,
    timeoutMs: z
      .number()
      .int()
      .min(1000)
      .max(6 * 60 * 60 * 1000)
      .optional(),
    network: z.boolean().default(false),
  }),
]);
export type CheckDef = z.output<typeof CheckDef>;

/** In validation lists: the name of a check in `checks`, or a command line (named by itself). */
const Commands = z.array(CommandLine).default([]);

export const Validation = z.strictObject({
  lint: Commands,
  test: Commands,
  byArea: z.record(z.string(), z.strictObject({ lint: Commands, test: Commands })).default({}),
});

/**
 * What a change of one risk needs before it lands (the seed's tiered review policy): how many
 * approvals, from reviewers who did not file its request; for `high`, by default, a reviewer
 * who was shown the whole diff and says why in a comment.
 */
export const ApprovalTier = z.strictObject({
  approvals: z.number().int().min(0).max(5),
  requireDiff: z.boolean().default(false),
  requireComment: z.boolean().default(false),
});
export type ApprovalTier = z.output<typeof ApprovalTier>;
export const DEFAULT_APPROVALS = {
  low: { approvals: 0, requireDiff: false, requireComment: false },
  medium: { approvals: 1, requireDiff: false, requireComment: false },
  high: { approvals: 1, requireDiff: true, requireComment: true },
} as const;
export const Approvals = z
  .strictObject({
    low: ApprovalTier.default(DEFAULT_APPROVALS.low),
    medium: ApprovalTier.default(DEFAULT_APPROVALS.medium),
    high: ApprovalTier.default(DEFAULT_APPROVALS.high),
  })
  .default(DEFAULT_APPROVALS);

/**
 * Checks run on the target branch after landings (the full suite where each task ran only its
 * area's): a failure is bisected over the changes landed since the last green run, and the
 * culprit reverted; one that does not reproduce on a re-run is recorded as flaky.
 */
export const PostMerge = z.strictObject({
  checks: z.array(CheckName).min(1, "must name at least one check of the policy"),
  /** Re-runs of a failing commit before the failure counts (a pass on any is flaky). */
  reruns: z.number().int().min(1).max(5).default(1),
});
export type PostMerge = z.output<typeof PostMerge>;

/**
 * The merge queue's speculative pipeline for a repository's branches (docs/merge-queue.md): up
 * to `window` entries in flight, stacked in batches of up to `batch.max` changes, each batch
 * checked on top of those ahead of it at the same time; a failing batch is bisected; a check
 * that fails and passes on a re-run of the same commit is flaky and blames nobody.
 */
export const QueuePipeline = z
  .strictObject({
    window: z.number().int().min(1, "must be at least 1").max(256).default(16),
    batch: z
      .strictObject({
        max: z.number().int().min(1, "must be at least 1").max(64).default(8),
      })
      .default({ max: 8 }),
    /** Re-runs of a failing check on the same commit before a single change is blamed. */
    flakyReruns: z.number().int().min(0, "must not be negative").max(5).default(1),
    /**
     * "branch": one strict lane per branch (the default). "area": a lane per policy area, for
     * changes whose paths all fall in one area; lanes of different areas run and land
     * independently, so a failure in one does not reset another. Opting in says each area's
     * checks depend only on its own files: a lane's passing result is carried over another
     * lane's landing, which touched only other areas (docs/merge-queue.md).
     */
    lanes: z
      .enum(["branch", "area"], {
        error: 'must be "branch" (one lane a branch) or "area" (a lane per area)',
      })
      .default("branch"),
  })
  .superRefine((p, ctx) => {
    if (p.window >= 1 && p.batch.max > p.window)
      ctx.addIssue({
        code: "custom",
        path: ["batch", "max"],
        message: `is ${p.batch.max}, larger than the window (${p.window}): a batch must fit in it`,
      });
  });
export type QueuePipeline = z.output<typeof QueuePipeline>;

export const Policy = z
  .strictObject({
    areas: z.array(Area).default([]),
    limits: Limits.default({
      maxFilesPerTask: 8,
      maxContextTokens: 60_000,
      maxTasksPerRequest: 20,
    }),
    checks: z.record(CheckName, CheckDef).default({}),
    validation: Validation.default({ lint: [], test: [], byArea: {} }),
    /**
     * Manual QA: a change of a request whose kind is listed waits in `qa_required` after its
     * checks pass, before it lands, until a person passes it (docs/worker-factory.md, "QA gating").
     * One waiting longer than `escalateAfterMinutes` is escalated to the operators.
     */
    qa: z
      .strictObject({
        kinds: z.array(z.enum(requestKinds)).default(["feature", "bugfix"]),
        escalateAfterMinutes: z
          .number()
          .int("must be a whole number of minutes")
          .min(1, "must be at least 1 minute")
          .max(60 * 24 * 30, "must be at most 43200 minutes (30 days)")
          .default(240),
      })
      .default({ kinds: ["feature", "bugfix"], escalateAfterMinutes: 240 }),
    agents: AgentPolicy,
    /** What one confined run (a check, an agent session) may use: processes, memory, CPU, disk. */
    runLimits: RunLimits.default(DEFAULT_RUN_LIMITS),
    approvals: Approvals,
    postMerge: PostMerge.optional(),
    /** The merge queue: its speculative pipeline, when set (else one entry at a time). */
    queue: z.strictObject({ pipeline: QueuePipeline.optional() }).optional(),
    /**
     * The repository's own plan file (such as "WORKPLAN.md"), read from the target branch's tip:
     * while its required sections are missing, no line matches its approval pattern, or an admin
     * has not approved its current text, no task of the repository is dispatched
     * (docs/worker-factory.md, "Plan gate"). A change touching it is high risk.
     */
    plan: repoPath.optional(),
  })
  .superRefine((policy, ctx) => {
    const names = new Set<string>();
    policy.areas.forEach((a, i) => {
      if (names.has(a.name))
        ctx.addIssue({
          code: "custom",
          path: ["areas", i, "name"],
          message: `duplicate area '${a.name}'`,
        });
      names.add(a.name);
    });
    for (const name of Object.keys(policy.agents.byArea)) {
      if (!names.has(name))
        ctx.addIssue({
          code: "custom",
          path: ["agents", "byArea", name],
          message: `unknown area '${name}'`,
        });
    }
    const usesCommand =
      policy.agents.default === "command" ||
      Object.values(policy.agents.byArea).includes("command");
    if (usesCommand && !policy.agents.command)
      ctx.addIssue({
        code: "custom",
        path: ["agents", "command"],
        message: "is required when an area's agent is 'command': the command line to run",
      });
    if (policy.agents.command) {
      const split = splitCommandLine(policy.agents.command);
      if ("problem" in split)
        ctx.addIssue({ code: "custom", path: ["agents", "command"], message: split.problem });
    }
    policy.postMerge?.checks.forEach((name, i) => {
      if (!(name in policy.checks))
        ctx.addIssue({
          code: "custom",
          path: ["postMerge", "checks", i],
          message: `'${name}' is not a check of this policy (checks)`,
        });
    });
    for (const name of Object.keys(policy.validation.byArea)) {
      if (!names.has(name))
        ctx.addIssue({
          code: "custom",
          path: ["validation", "byArea", name],
          message: `unknown area '${name}'`,
        });
    }
  });

export type Policy = z.output<typeof Policy>;
export type Area = z.output<typeof Area>;
export type Limits = z.output<typeof Limits>;
