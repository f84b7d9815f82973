import { z } from "zod";

// Alert rules (docs/alerts.md): what the worker watches for, and where it sends word of it.
// A rule is kept in the config file; its webhook secrets are in the file too (the receiver
// checks the signature with the same secret), and never shown in logs or pages.

export const alertKinds = [
  "entry_quarantined",
  "verification_red",
  "worker_silent",
  "queue_stalled",
  "approval_waiting",
  "qa_waiting",
  "remote_unreachable",
] as const;
export type AlertKind = (typeof alertKinds)[number];

/** What each kind means, in words (docs/alerts.md says more). */
export const alertKindText: Record<AlertKind, string> = {
  entry_quarantined: "A queue entry was quarantined",
  verification_red: "Post-merge verification is red",
  worker_silent: "A worker host has not been seen",
  queue_stalled: "The oldest queue entry is waiting too long",
  approval_waiting: "A change has waited too long for approval",
  qa_waiting: "A change has waited too long for manual QA",
  remote_unreachable: "A remote repository cannot be reached",
};

/** A secret as Standard Webhooks writes it: `whsec_` and 24 to 64 random bytes in base64. */
export const WebhookSecret = z
  .string()
  .regex(
    /^whsec_[A-Za-z0-9+/]+={0,2}$/,
    "must be 'whsec_' followed by base64 (for example: whsec_$(openssl rand -base64 32))",
  )
  .refine(
    (s) => {
      const bytes = Buffer.from(s.slice("whsec_".length), "base64").length;
      return bytes >= 24 && bytes <= 64;
    },
    { message: "must hold 24 to 64 bytes of randomness (openssl rand -base64 32)" },
  );

export const AlertWebhook = z
  .strictObject({
    url: z
      .string()
      .max(2048, "is longer than 2048 characters")
      .pipe(
        z.url({
          protocol: /^https?$/,
          error: "must be an http(s) URL such as https://hooks.example.com/hyperion",
        }),
      ),
    /** Signs every delivery (Standard Webhooks); required for the standard format. */
    secret: WebhookSecret.optional(),
    /** "standard": a JSON event; "slack": {"text": …} for a Slack-compatible incoming webhook. */
    format: z
      .enum(["standard", "slack"], { error: 'must be "standard" or "slack"' })
      .default("standard"),
  })
  .superRefine((w, ctx) => {
    if (w.format === "standard" && !w.secret)
      ctx.addIssue({
        code: "custom",
        path: ["secret"],
        message:
          "is required for the standard format (the receiver verifies the signature with it): whsec_ and base64",
      });
    try {
      const u = new URL(w.url);
      if (u.username || u.password)
        ctx.addIssue({
          code: "custom",
          path: ["url"],
          message: "must not carry a user name or password",
        });
    } catch {
      // z.url said why.
    }
  });
export type AlertWebhook = z.output<typeof AlertWebhook>;

const repoFilter = z
  .array(z.string().min(1))
  .min(1, "names at least one repository (leave it out for all)")
  .max(100, "names at most 100 repositories")
  .optional();

const webhooks = z
  .array(AlertWebhook)
  .max(10, "lists at most 10 webhooks")
  .default([])
  .superRefine((list, ctx) => {
    const seen = new Set<string>();
    list.forEach((w, i) => {
      if (seen.has(w.url))
        ctx.addIssue({ code: "custom", path: [i, "url"], message: "is listed twice in this rule" });
      seen.add(w.url);
    });
  });

const whole = (unit: string, min: number, max: number, maxWords: string) =>
  z
    .number({ error: `must be a number of ${unit}` })
    .int(`must be a whole number of ${unit}`)
    .min(min, `must be at least ${min}`)
    .max(max, `must be at most ${max} (${maxWords})`);

const common = { repositories: repoFilter, webhooks };

export const AlertRule = z.discriminatedUnion(
  "kind",
  [
    z.strictObject({ kind: z.literal("entry_quarantined"), ...common }),
    z.strictObject({ kind: z.literal("verification_red"), ...common }),
    z.strictObject({
      kind: z.literal("worker_silent"),
      /** A worker host whose last heartbeat is older than this (and that did not stop cleanly). */
      seconds: whole("seconds", 10, 604_800, "a week"),
      webhooks,
    }),
    z.strictObject({
      kind: z.literal("queue_stalled"),
      /** The oldest entry still waiting in the queue was submitted longer ago than this. */
      minutes: whole("minutes", 1, 10_080, "a week"),
      ...common,
    }),
    z.strictObject({
      kind: z.literal("approval_waiting"),
      hours: whole("hours", 1, 720, "30 days"),
      ...common,
    }),
    /** Its threshold is the repository's policy `qa.escalateAfterMinutes`: it fires on escalation. */
    z.strictObject({ kind: z.literal("qa_waiting"), ...common }),
    z.strictObject({ kind: z.literal("remote_unreachable"), ...common }),
  ],
  {
    error: `must be one of ${alertKinds.map((k) => `"${k}"`).join(", ")}`,
  },
);
export type AlertRule = z.output<typeof AlertRule>;

export const AlertRules = z.array(AlertRule).max(100, "lists at most 100 rules");

/** The threshold of a rule, in milliseconds (0: none). */
export function thresholdMs(rule: AlertRule): number {
  if (rule.kind === "worker_silent") return rule.seconds * 1000;
  if (rule.kind === "queue_stalled") return rule.minutes * 60_000;
  if (rule.kind === "approval_waiting") return rule.hours * 3_600_000;
  return 0;
}
