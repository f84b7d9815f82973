import { z } from "zod";
import { repoPath } from "./paths";

export const requestKinds = ["feature", "bugfix", "refactor", "docs", "test", "chore"] as const;
export const priorities = ["low", "normal", "high"] as const;

export const TITLE_MAX = 200;
export const DESCRIPTION_MAX = 20_000;
/** Requests in one call: one CLI file, one API batch, one inbox file. */
export const MAX_REQUESTS_PER_CALL = 100;

// C0 controls and DEL: they end lines and comments where text is written (commit messages,
// files) and hide text on screens. Tabs and line breaks are allowed where lines are.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
const CONTROL = /[\u0000-\u001f\u007f]/;
/** Control characters other than tab and line breaks: refused in free text that has lines. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding them is the point
export const CONTROL_BUT_LINES = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
// Line and paragraph separators, bidi overrides and zero-width marks in a one-line title.
const INVISIBLE_BREAKS = /[\u2028\u2029\u202a-\u202e\u2066-\u2069\u200b-\u200f\ufeff]/;

const DEPENDENCY =
  'must be a request id (a number such as 12), or "#0", "#1"… for an earlier item of this call';
const requestId = z
  .number({ error: DEPENDENCY })
  .int("must be a whole number")
  .positive("must be a request id");
/**
 * An earlier item of the same call by its position: `"#0"` is the call's first request. The
 * service resolves it to that request's id once the call is recorded (server/requests/service.ts).
 */
export const positionRef = z
  .string({ error: DEPENDENCY })
  .regex(/^#(0|[1-9][0-9]{0,2})$/, DEPENDENCY);
/** The position `"#3"` names, or null for a request id. */
export function positionOf(dep: number | string): number | null {
  return typeof dep === "string" ? Number(dep.slice(1)) : null;
}

/**
 * What a person asks for. `repo` is checked against the configuration by
 * `taskRequestFor(repoNames)`; the plain schema is the published contract.
 */
export const TaskRequest = z.strictObject({
  title: z
    .string()
    .trim()
    .min(1, "is required")
    .max(TITLE_MAX, `must be at most ${TITLE_MAX} characters`)
    .refine((t) => !CONTROL.test(t), "must not contain control characters (one line of text)")
    .refine(
      (t) => !INVISIBLE_BREAKS.test(t),
      "must not contain line separators, direction overrides or zero-width characters",
    ),
  description: z
    .string()
    .max(DESCRIPTION_MAX, `must be at most ${DESCRIPTION_MAX} characters`)
    .refine(
      (d) => !CONTROL_BUT_LINES.test(d),
      "must not contain control characters other than tabs and line breaks",
    ),
  repo: z.string().min(1, "is required"),
  kind: z.enum(requestKinds).optional(),
  priority: z.enum(priorities).default("normal"),
  areas: z.array(z.string().trim().min(1, "must not be empty").max(100)).max(50).default([]),
  files: z.array(repoPath).max(500).default([]),
  /** Requests that must land first: ids, or `"#0"`… for earlier items of the same call. */
  dependsOn: z
    .array(z.union([requestId, positionRef]))
    .max(100)
    .default([]),
  /**
   * Files named here that the target branch does not have yet are refused (a mistyped path
   * would become a new file) unless this is true. Only for filing; not stored.
   */
  allowNewFiles: z.boolean().optional(),
  /**
   * Acceptance criteria: what done looks like, in words, for the developer. (An item that happens
   * to name a policy check, or its exact command line, also adds that check, as before.)
   */
  acceptance: z
    .array(
      z
        .string()
        .trim()
        .min(1, "must not be empty")
        .max(1000)
        .refine((a) => !CONTROL.test(a), "must not contain control characters"),
    )
    .max(50)
    .default([]),
  /**
   * Checks the repository's policy names (its `checks`) that the change must pass, besides the
   * checks of its areas. A name the policy does not define is refused, naming `checks[i]`.
   */
  checks: z
    .array(
      z
        .string()
        .trim()
        .min(1, "must not be empty")
        .max(100, "must be at most 100 characters")
        .refine((c) => !CONTROL.test(c), "must not contain control characters"),
    )
    .max(50)
    .default([]),
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
  const schema = Array.isArray(input)
    ? z
        .array(one)
        .min(1, "must hold at least one request")
        .max(
          MAX_REQUESTS_PER_CALL,
          `must hold at most ${MAX_REQUESTS_PER_CALL} requests per call; split it into several`,
        )
    : one;
  const result = schema.safeParse(input);
  if (!result.success) return { success: false as const, error: result.error };
  const data = Array.isArray(result.data) ? result.data : [result.data];
  return { success: true as const, data };
}
