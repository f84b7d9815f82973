import { and, asc, eq } from "drizzle-orm";
import { filesFromBody } from "@/schemas/github";
import { DESCRIPTION_MAX, TITLE_MAX } from "@/schemas/task-request";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { githubDeliveries, githubIssues, requests } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { log } from "@/server/log";
import { syncRemote } from "@/server/remotes/sync";
import { answerRequest } from "@/server/requests/answer";
import { cancelRequest } from "@/server/requests/cancel";
import { editRequest } from "@/server/requests/edit";
import { createRequests } from "@/server/requests/service";
import { firstAdmin, requireUserByEmail, type User } from "@/server/users/service";
import { githubOf, repoFor } from "./config";

// What Hyperion does with an issue: labelled, it becomes a request (once: the issue's row is
// unique); edited before planning, the request follows; closed, the request is cancelled; a
// comment `/hyperion answer …` from its author or a member answers the Engineer. Shared by the
// webhook deliveries (handled here, after they were stored) and reconciliation (reconcile.ts).

/** The parts of GitHub's issue object Hyperion reads. */
export type GithubIssue = {
  number: number;
  title: string;
  body?: string | null;
  state?: string;
  html_url: string;
  labels?: (string | { name?: string | null })[];
  user?: { login?: string } | null;
  pull_request?: unknown;
};

const FINISHED = ["done", "failed", "cancelled", "rolled_back"];

const labelNames = (issue: GithubIssue) =>
  (issue.labels ?? [])
    .map((l) => (typeof l === "string" ? l : (l.name ?? "")))
    .filter(Boolean)
    .slice(0, 100);

export const hasLabel = (issue: GithubIssue, label: string) =>
  labelNames(issue).some((l) => l.toLowerCase() === label.toLowerCase());

/** Who requests from issues are filed as. */
export function intakeUser(db: Db, config: LoadedConfig): User {
  const email = githubOf(config)?.requester;
  const user = email ? requireUserByEmail(db, email) : firstAdmin(db);
  if (!user) throw new Error("no user to file GitHub issues as; add one with 'hyperion user add'");
  return user;
}

export function issueRow(db: Db, fullName: string, number: number) {
  return db
    .select()
    .from(githubIssues)
    .where(
      and(eq(githubIssues.githubRepo, fullName.toLowerCase()), eq(githubIssues.number, number)),
    )
    .get();
}

/** The request input an issue makes, or why it cannot make one. */
function requestInput(repo: string, issue: GithubIssue): { input: object } | { refusal: string } {
  const body = issue.body ?? "";
  if (body.length > DESCRIPTION_MAX)
    return {
      refusal: `the issue's body is ${body.length} characters; a request's description may have at most ${DESCRIPTION_MAX}: shorten it, or link to the details`,
    };
  const title =
    issue.title.length > TITLE_MAX ? `${issue.title.slice(0, TITLE_MAX - 1)}…` : issue.title;
  const areas = labelNames(issue)
    .filter((l) => l.toLowerCase().startsWith("area:"))
    .map((l) => l.slice(5).trim())
    .filter(Boolean);
  return {
    input: {
      title,
      description: `${body}\n\n(From GitHub issue ${issue.html_url})`.trim(),
      repo,
      files: filesFromBody(body),
      areas,
    },
  };
}

/**
 * Makes an issue a request, once. An issue already linked to a request is left as it is; one
 * refused before (say, a file path that is not allowed) is tried again, since it may have been
 * edited. A refusal is recorded on the issue's row, and its status comment says it.
 */
export function fileIssue(
  db: Db,
  config: LoadedConfig,
  fullName: string,
  issue: GithubIssue,
  now = Date.now(),
): { requestId: number | null; refusal: string | null } {
  const repo = repoFor(config, fullName);
  if (!repo) return { requestId: null, refusal: `no repository takes work from ${fullName}` };
  const key = fullName.toLowerCase();
  const existing = issueRow(db, key, issue.number);
  if (existing?.requestId) return { requestId: existing.requestId, refusal: null };
  const made = requestInput(repo.name, issue);
  let requestId: number | null = null;
  let refusal: string | null = "refusal" in made ? made.refusal : null;
  db.transaction(() => {
    if ("input" in made) {
      try {
        const [created] = createRequests(db, {
          input: made.input,
          requester: intakeUser(db, config),
          config,
          source: "github",
        });
        requestId = created?.id ?? null;
      } catch (err) {
        if (!(err instanceof ValidationError)) throw err;
        refusal = err.issues.map((i) => `${i.path}: ${i.message}`).join("; ");
      }
    }
    const values = {
      requestId,
      refusal,
      url: issue.html_url,
      updatedAt: now,
    };
    if (existing) db.update(githubIssues).set(values).where(eq(githubIssues.id, existing.id)).run();
    else
      db.insert(githubIssues)
        .values({ githubRepo: key, number: issue.number, createdAt: now, ...values })
        .run();
  });
  return { requestId, refusal };
}

/** A closed issue cancels its request, if it is not finished yet. */
export function issueClosed(
  db: Db,
  config: LoadedConfig,
  fullName: string,
  number: number,
): string {
  const row = issueRow(db, fullName, number);
  if (!row?.requestId) return "no request to cancel";
  const request = db.select().from(requests).where(eq(requests.id, row.requestId)).get();
  if (!request || FINISHED.includes(request.status))
    return `R${row.requestId} is already ${request?.status}`;
  cancelRequest(
    db,
    row.requestId,
    intakeUser(db, config),
    `its GitHub issue #${number} was closed`,
  );
  return `R${row.requestId} cancelled`;
}

type Payload = {
  action?: string;
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
        const r = fileIssue(db, config, fullName, issue);
        return r.requestId
          ? { state: "handled", note: `#${issue.number} is R${r.requestId}` }
          : { state: "handled", note: `#${issue.number} refused: ${r.refusal}` };
      }
      case "edited": {
        const row = issueRow(db, fullName, issue.number);
        if (!row?.requestId) {
          if (!hasLabel(issue, settings.label)) return { state: "ignored", note: "not a request" };
          const r = fileIssue(db, config, fullName, issue);
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
          await editRequest(db, config, row.requestId, intakeUser(db, config), {
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
        return { state: "handled", note: issueClosed(db, config, fullName, issue.number) };
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
    const row = issueRow(db, fullName, issue.number);
    if (!row?.requestId) return { state: "ignored", note: `#${issue.number} is not a request` };
    const by = p.comment?.user?.login;
    if (by !== issue.user?.login && !TRUSTED.includes(p.comment?.author_association ?? ""))
      return {
        state: "ignored",
        note: `${by} is neither the issue's author nor a member: answer not taken`,
      };
    try {
      await answerRequest(db, config, row.requestId, intakeUser(db, config), {
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
  const queued = db
    .select()
    .from(githubDeliveries)
    .where(eq(githubDeliveries.state, "queued"))
    .orderBy(asc(githubDeliveries.receivedAt), asc(githubDeliveries.id))
    .limit(limit)
    .all();
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
    db.update(githubDeliveries)
      .set({ state, note: note.slice(0, 1000), handledAt: Date.now() })
      .where(and(eq(githubDeliveries.id, d.id), eq(githubDeliveries.state, "queued")))
      .run();
  }
  return queued.length;
}
