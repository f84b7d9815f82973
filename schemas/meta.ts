import { z } from "zod";
import type { SteerCommand } from "@/server/db/schema/runs";
import { notesProblem, RequestRef } from "./qa";
import { priorities } from "./task-request";

// The workspace meta queue's contract (server/meta): what an operator, a script or a webhook
// relay submits, each item carrying the id of the event it comes from. The same id twice is
// one item: the second delivery reports the first's outcome.

/** Items people submit; `qa_escalation` is recorded by the QA gate itself. */
export const metaSubmitKinds = [
  "depend",
  "priority",
  "pause",
  "resume",
  "cancel",
  "restart",
  "steer",
] as const;
export const metaKinds = [...metaSubmitKinds, "qa_escalation"] as const;
export type MetaKind = (typeof metaKinds)[number];

/** An item's states: the table of moves is server/state/meta/states.ts. */
export const metaStates = ["pending", "applied", "refused"] as const;
export type MetaState = (typeof metaStates)[number];

export const metaStateLabels: Record<MetaState, string> = {
  pending: "Pending",
  applied: "Applied",
  refused: "Refused",
};

export const metaKindLabels: Record<MetaKind, string> = {
  depend: "Cross-repository dependency",
  priority: "Dispatch priority",
  pause: "Pause a repository",
  resume: "Resume a repository",
  cancel: "Cancel a request",
  restart: "Restart a request",
  steer: "Steer a run",
  qa_escalation: "QA escalation",
};

export const steerCommandNames = [
  "append_context",
  "checkpoint_and_replan",
  "stop_and_requeue",
] as const satisfies readonly SteerCommand[];

/** The longest operator's note on an item, in characters. */
export const META_NOTE_MAX = 500;
/** The longest steering message (as the run page's steering allows). */
export const META_MESSAGE_MAX = 4000;

/** Free text with lines, bounded, without control characters (named with their position). */
const text = (max: number) =>
  z.string().superRefine((s, ctx) => {
    const problem = notesProblem(s, max);
    if (problem) ctx.addIssue({ code: "custom", message: problem });
  });

/**
 * The id of the event an item comes from (a webhook delivery, a board event, a CLI call):
 * printable ASCII without spaces, so that it reads the same in a log, a URL and a terminal.
 */
export const SourceEventId = z
  .string({ error: "is required: the id of the event this item comes from" })
  .min(1, "is required: the id of the event this item comes from")
  .max(200, "is at most 200 characters")
  .regex(/^[\x21-\x7e]+$/, "must be printable ASCII without spaces (such as gh-delivery-4411)");

const RepoName = z
  .string({ error: "must name a repository" })
  .min(1, "must name a repository")
  .max(200, "is at most 200 characters");

const common = {
  sourceEventId: SourceEventId,
  /** Why, in the operator's words: shown with the item. */
  note: text(META_NOTE_MAX).optional(),
};

export const MetaItemInput = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({
      kind: z.literal("depend"),
      ...common,
      /** The request that waits… */
      request: RequestRef,
      /** …for this one to land (all its changes merged), in any repository. */
      on: RequestRef,
    }),
    z
      .strictObject({
        kind: z.literal("priority"),
        ...common,
        request: RequestRef.optional(),
        repo: RepoName.optional(),
        priority: z.enum(priorities, { error: `must be one of ${priorities.join(", ")}` }),
      })
      .refine((i) => (i.request === undefined) !== (i.repo === undefined), {
        path: ["request"],
        message: "name either a request or a repository (repo), not both",
      }),
    z.strictObject({ kind: z.literal("pause"), ...common, repo: RepoName }),
    z.strictObject({ kind: z.literal("resume"), ...common, repo: RepoName }),
    z.strictObject({ kind: z.literal("cancel"), ...common, request: RequestRef }),
    z.strictObject({ kind: z.literal("restart"), ...common, request: RequestRef }),
    z.strictObject({
      kind: z.literal("steer"),
      ...common,
      run: z.number({ error: "must be a run id" }).int().positive("must be a run id"),
      command: z.enum(steerCommandNames, {
        error: `must be one of ${steerCommandNames.join(", ")}`,
      }),
      /** What the agent is told (the seed's steering reason). */
      message: text(META_MESSAGE_MAX).refine((s) => s.trim().length > 0, {
        message: "is required: say what the agent should know, it reads this",
      }),
    }),
  ],
  { error: `kind must be one of ${metaSubmitKinds.join(", ")}` },
);
export type MetaItemInput = z.infer<typeof MetaItemInput>;
export type MetaItemRawInput = z.input<typeof MetaItemInput>;

export const MetaListInput = z
  .strictObject({
    state: z.enum(metaStates).optional(),
    limit: z.number().int().min(1).max(500).optional(),
  })
  .optional();
