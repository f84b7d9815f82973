import type { Octokit } from "@octokit/rest";
import { eq } from "drizzle-orm";
import { requestStatusLabels, taskStateLabels } from "@/schemas/labels";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { githubIssues } from "@/server/db/schema";
import { currentEnv } from "@/server/env.mjs";
import { log } from "@/server/log";
import { workOf } from "@/server/views/work";
import { githubOf } from "./config";

// One comment per issue, kept by Hyperion and edited in place as the request moves: its state,
// its tasks, the Engineer's question (answered by a `/hyperion answer …` comment), the landed
// commits, and a link to the request's page. Edited only when what it says changed, so an idle
// install makes no calls; the issue is closed once its request is done when the config says so.

const MARK = "<!-- hyperion:status -->";
const FINAL = ["done", "failed", "cancelled", "rolled_back"];

/** Where people open Hyperion, for the link in the comment. */
function baseUrl(): string {
  const env = currentEnv();
  return (env.NEXTAUTH_URL ?? `http://localhost:${env.PORT}`).replace(/\/$/, "");
}

/** The comment's text for an issue's row: what its request is at now, or why there is none. */
export async function statusText(
  db: Db,
  config: LoadedConfig,
  row: typeof githubIssues.$inferSelect,
): Promise<{ text: string; final: boolean; done: boolean }> {
  if (!row.requestId)
    return {
      text: `${MARK}\n**Hyperion could not take this issue:** ${row.refusal ?? "unknown reason"}.\n\nEdit the issue to fix it; Hyperion tries again.`,
      final: false,
      done: false,
    };
  const work = await workOf(db, { requestId: row.requestId, taskId: null });
  const request = work.request;
  if (!request)
    return { text: `${MARK}\nRequest R${row.requestId} is gone.`, final: true, done: false };
  const repo = config.repositories.find((r) => r.name === request.repo);
  const lines = [
    MARK,
    `**Hyperion** · [R${request.id}](${baseUrl()}/requests/${request.id}) · **${requestStatusLabels[request.status]}**`,
    "",
  ];
  if (work.tasks.length) {
    lines.push("| task | state |", "| --- | --- |");
    for (const t of work.tasks)
      lines.push(
        `| R${t.id} ${t.title.replace(/\|/g, "\\|").slice(0, 100)} | ${taskStateLabels[t.state] ?? t.state} |`,
      );
    lines.push("");
  }
  if (request.status === "needs_clarification") {
    const questions = work.spec?.questions ?? [];
    lines.push("The Engineer asks:", ...questions.map((q) => `> ${q.replace(/\n/g, " ")}`), "");
    lines.push("Reply with a comment `/hyperion answer <your answer>`.", "");
  }
  // Land "pull-request": the pull requests its changes went out in, until the forge merges them.
  const reviewing = work.changes.flatMap((c) =>
    c.entry?.state === "in_review" && c.entry.pullRequest ? [c.entry.pullRequest] : [],
  );
  if (reviewing.length)
    lines.push(
      `Pull request${reviewing.length > 1 ? "s" : ""}: ${reviewing.map((p) => `[#${p.number}](${p.url})`).join(", ")}`,
      "",
    );
  const landed = work.changes.flatMap((c) => (c.entry?.mergedCommit ? [c.entry.mergedCommit] : []));
  if (landed.length) {
    lines.push(
      `Landed on \`${repo?.targetBranch ?? "main"}\`: ${landed
        .map((sha) =>
          repo?.webUrl
            ? `[${sha.slice(0, 12)}](${repo.webUrl}/commit/${sha})`
            : `\`${sha.slice(0, 12)}\``,
        )
        .join(", ")}`,
    );
  }
  return {
    text: lines.join("\n").trim(),
    final: FINAL.includes(request.status),
    done: request.status === "done",
  };
}

/**
 * Posts or edits the status comment of every open issue whose text changed, and closes issues
 * whose request is done when the config asks. Returns the number of API calls made.
 */
export async function syncComments(db: Db, config: LoadedConfig, client: Octokit): Promise<number> {
  const settings = githubOf(config);
  if (!settings) return 0;
  let calls = 0;
  const rows = await db
    .select()
    .from(githubIssues)
    .where(eq(githubIssues.closed, false))
    .limit(200);
  for (const row of rows) {
    const { text, final, done } = await statusText(db, config, row);
    const [owner = "", repo = ""] = row.githubRepo.split("/");
    try {
      if (text !== row.posted) {
        let commentId = row.commentId;
        if (commentId) {
          await client.rest.issues.updateComment({
            owner,
            repo,
            comment_id: commentId,
            body: text,
          });
        } else {
          const made = await client.rest.issues.createComment({
            owner,
            repo,
            issue_number: row.number,
            body: text,
          });
          commentId = made.data.id;
        }
        calls++;
        await db
          .update(githubIssues)
          .set({ commentId, posted: text, updatedAt: Date.now() })
          .where(eq(githubIssues.id, row.id));
      }
      if (final) {
        if (done && settings.closeIssues) {
          await client.rest.issues.update({
            owner,
            repo,
            issue_number: row.number,
            state: "closed",
            state_reason: "completed",
          });
          calls++;
        }
        // A finished request's comment says its last word: the row is done with.
        await db
          .update(githubIssues)
          .set({ closed: true, updatedAt: Date.now() })
          .where(eq(githubIssues.id, row.id));
      }
    } catch (err) {
      log.warn(
        {
          issue: `${row.githubRepo}#${row.number}`,
          error: err instanceof Error ? err.message : String(err),
        },
        "could not update the issue's status comment",
      );
    }
  }
  return calls;
}
