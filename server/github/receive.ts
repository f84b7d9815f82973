import { Webhooks } from "@octokit/webhooks";
import { sql } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { githubDeliveries } from "@/server/db/schema";
import { namedSecret } from "@/server/env.mjs";
import { githubOf, repoFor } from "./config";

// POST /api/webhooks/github: a delivery is verified (HMAC-SHA256 of the raw body, by
// @octokit/webhooks, with the current secret or, while it is rotated, the previous one), stored
// once by its X-GitHub-Delivery id, and answered at once; the worker handles it after (intake.ts).
// GitHub gives up on a delivery after 10 seconds: nothing slow happens here.

/** The events Hyperion acts on; any other is answered 202 and not stored. */
export const HANDLED_EVENTS = [
  "issues",
  "issue_comment",
  "push",
  "ping",
  "projects_v2_item",
] as const;

export type WebhookReply = { status: number; body: Record<string, unknown> };

const reply = (status: number, body: Record<string, unknown>): WebhookReply => ({ status, body });

export async function receiveGithubWebhook(
  db: Db,
  config: LoadedConfig,
  req: { header: (name: string) => string | null; body: Buffer },
  now = Date.now(),
): Promise<WebhookReply> {
  const settings = githubOf(config);
  if (!settings)
    return reply(404, {
      error: "GitHub intake is not configured: add a github section to the config",
    });
  const secrets = [settings.webhookSecretEnv, settings.previousWebhookSecretEnv]
    .map((name) => (name ? namedSecret(name) : undefined))
    .filter((s): s is string => !!s);
  if (secrets.length === 0)
    return reply(503, {
      error: `the webhook secret is not set: set ${settings.webhookSecretEnv} in the web server's environment`,
    });
  const signature = req.header("x-hub-signature-256");
  if (!signature) return reply(401, { error: "X-Hub-Signature-256 is missing" });
  const text = req.body.toString("utf8");
  let verified = false;
  for (const secret of secrets) {
    try {
      if (await new Webhooks({ secret }).verify(text, signature)) verified = true;
    } catch {
      // A malformed signature header: not verified.
    }
    if (verified) break;
  }
  if (!verified) return reply(401, { error: "the signature does not match the body" });

  const event = req.header("x-github-event");
  const delivery = req.header("x-github-delivery");
  if (!event) return reply(400, { error: "X-GitHub-Event is missing" });
  if (!delivery || delivery.length > 100)
    return reply(400, { error: "X-GitHub-Delivery is missing or longer than 100 characters" });
  let payload: unknown;
  try {
    payload = JSON.parse(text);
  } catch {
    return reply(400, { error: "the body is not JSON" });
  }
  if (typeof payload !== "object" || payload === null || Array.isArray(payload))
    return reply(400, { error: "the body is not a JSON object" });
  if (!(HANDLED_EVENTS as readonly string[]).includes(event))
    return reply(202, { ignored: `the ${event} event is not one Hyperion acts on` });
  const p = payload as { action?: unknown; repository?: { full_name?: unknown } };
  const fullName = typeof p.repository?.full_name === "string" ? p.repository.full_name : null;
  // A project item's event is the organization's: its repository is known once its issue is read.
  if (event === "projects_v2_item" && !settings.projectStatus)
    return reply(202, {
      ignored: "github.projectStatus is not set: project items are not watched",
    });
  if (event !== "ping" && event !== "projects_v2_item" && (!fullName || !repoFor(config, fullName)))
    return reply(202, {
      ignored: `no repository in Hyperion's config takes work from ${fullName ?? "(no repository)"}: set github on it`,
    });
  const inserted = await db
    .insert(githubDeliveries)
    .values({
      id: delivery,
      event,
      action: typeof p.action === "string" ? p.action.slice(0, 100) : null,
      repo: fullName,
      payload: text,
      state: event === "ping" ? "handled" : "queued",
      receivedAt: now,
      ...(event === "ping" ? { handledAt: now, note: "ping" } : {}),
    })
    .onConflictDoNothing()
    .returning({ one: sql`1` });
  if (inserted.length === 0) return reply(200, { duplicate: delivery });
  return reply(202, { queued: delivery });
}
