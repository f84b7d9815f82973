import { and, asc, eq } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { githubDeliveries } from "@/server/db/schema";
import { log } from "@/server/log";
import { syncRemote } from "@/server/remotes/sync";
import { answerRequest } from "@/server/requests/answer";
import { editRequest } from "@/server/requests/edit";
import { githubOf, repoFor } from "./config";
import {
  fileIssue,
  type GithubIssue,
  hasLabel,
  intakeUser,
  issueClosed,
  issueRow,
  requestInput,
} from "./issues";
import { projectItemMoved } from "./projects";

// Handling the stored webhook deliveries (receive.ts stored them): each event routed to what it
// does to an issue's request (issues.ts), a project item (projects.ts) or a remote's mirror.

type Payload = {
  action?: string;
  projects_v2_item?: { node_id?: string; content_type?: string };
  issue?: GithubIssue;
  comment?: { body?: string; user?: { login?: string }; author_association?: string };
  repository?: { full_name?: string };
  ref?: string;
  label?: { name?: string };
};

/** The answer in a `/hyperion answer …` comment, or null. */
export function answerIn(body: string): string | null {
  const m = /^\s*\/hyperion\s+answer\s+([\s\S]+)$/i.exec(body);
  return m?.[1]?.trim() || null;
}

const TRUSTED = ["OWNER", "MEMBER", "COLLABORATOR"];

/** Handles one stored delivery; returns what was done, in words, for its row. */
async function handle(
  db: Db,
  config: LoadedConfig,
  event: string,
  p: Payload,
): Promise<{ state: "handled" | "ignored"; note: string }> {
  // An organization's event: the repository is the item's issue's (projects.ts).
  if (event === "projects_v2_item") {
    if (p.action !== "edited" && p.action !== "created")
      return { state: "ignored", note: `a project item ${p.action}` };
    return projectItemMoved(db, config, p.projects_v2_item ?? {});
  }
  const settings = githubOf(config);
  const fullName = p.repository?.full_name ?? "";
  const repo = repoFor(config, fullName);
  if (!settings || !repo)
    return { state: "ignored", note: `no repository takes work from ${fullName}` };
  if (event === "push") {
    if (p.ref !== `refs/heads/${repo.targetBranch}` || !repo.remote)
      return { state: "ignored", note: `a push to ${p.ref}, not to a remote's target branch` };
    const tip = await syncRemote(db, repo);
    return {
      state: "handled",
      note: tip ? `fetched ${tip.slice(0, 12)}` : "fetch failed (see hyperion status)",
    };
  }
  const issue = p.issue;
  if (!issue || typeof issue.number !== "number")
    return { state: "ignored", note: "no issue in the payload" };
  if (issue.pull_request) return { state: "ignored", note: "a pull request, not an issue" };
  if (event === "issues") {
    switch (p.action) {
      case "opened":
      case "labeled":
      case "reopened": {
        if (!hasLabel(issue, settings.label))
          return { state: "ignored", note: `#${issue.number} has no '${settings.label}' label` };
        const r = await fileIssue(db, config, fullName, issue);
        return r.requestId
          ? { state: "handled", note: `#${issue.number} is R${r.requestId}` }
          : { state: "handled", note: `#${issue.number} refused: ${r.refusal}` };
      }
      case "edited": {
        const row = await issueRow(db, fullName, issue.number);
        if (!row?.requestId) {
          if (!hasLabel(issue, settings.label)) return { state: "ignored", note: "not a request" };
          const r = await fileIssue(db, config, fullName, issue);
          return {
            state: "handled",
            note: r.requestId ? `#${issue.number} is R${r.requestId}` : `refused: ${r.refusal}`,
          };
        }
        const made = requestInput(repo.name, issue);
        if ("refusal" in made) return { state: "handled", note: `edit not taken: ${made.refusal}` };
        const { title, description, files } = made.input as {
          title: string;
          description: string;
          files: string[];
        };
        try {
          await editRequest(db, config, row.requestId, await intakeUser(db, config), {
            title,
            description,
            files,
          });
          return { state: "handled", note: `R${row.requestId} edited` };
        } catch (err) {
          return {
            state: "handled",
            note: `edit not taken: ${err instanceof Error ? err.message : String(err)}`,
          };
        }
      }
      case "closed":
        return { state: "handled", note: await issueClosed(db, config, fullName, issue.number) };
      default:
        return {
          state: "ignored",
          note: `the ${p.action} action of an issue changes nothing here`,
        };
    }
  }
  if (event === "issue_comment" && p.action === "created") {
    const answer = answerIn(p.comment?.body ?? "");
    if (!answer) return { state: "ignored", note: "a comment that is not /hyperion answer" };
    const row = await issueRow(db, fullName, issue.number);
    if (!row?.requestId) return { state: "ignored", note: `#${issue.number} is not a request` };
    const by = p.comment?.user?.login;
    if (by !== issue.user?.login && !TRUSTED.includes(p.comment?.author_association ?? ""))
      return {
        state: "ignored",
        note: `${by} is neither the issue's author nor a member: answer not taken`,
      };
    try {
      await answerRequest(db, config, row.requestId, await intakeUser(db, config), {
        note: answer.slice(0, 4000),
      });
      return { state: "handled", note: `R${row.requestId} answered by ${by}` };
    } catch (err) {
      return {
        state: "handled",
        note: `answer not taken: ${err instanceof Error ? err.message : String(err)}`,
      };
    }
  }
  return { state: "ignored", note: `${event}.${p.action} changes nothing here` };
}

/**
 * Handles the stored deliveries in the order they arrived, a batch at a time. Each ends handled,
 * ignored or failed with a note in words; none is handled twice (its state moves off `queued`).
 */
export async function handleDeliveries(db: Db, config: LoadedConfig, limit = 50): Promise<number> {
  const queued = await db
    .select()
    .from(githubDeliveries)
    .where(eq(githubDeliveries.state, "queued"))
    .orderBy(asc(githubDeliveries.receivedAt), asc(githubDeliveries.id))
    .limit(limit);
  for (const d of queued) {
    let state: "handled" | "ignored" | "failed";
    let note: string;
    try {
      ({ state, note } = await handle(db, config, d.event, JSON.parse(d.payload) as Payload));
    } catch (err) {
      state = "failed";
      note = err instanceof Error ? err.message : String(err);
      log.warn({ delivery: d.id, error: note }, "a GitHub delivery failed");
    }
    await db
      .update(githubDeliveries)
      .set({ state, note: note.slice(0, 1000), handledAt: Date.now() })
      .where(and(eq(githubDeliveries.id, d.id), eq(githubDeliveries.state, "queued")));
  }
  return queued.length;
}
