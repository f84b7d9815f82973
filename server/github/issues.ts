import { and, eq } from "drizzle-orm";
import { filesFromBody } from "@/schemas/github";
import { DESCRIPTION_MAX, TITLE_MAX } from "@/schemas/task-request";
import type { LoadedConfig } from "@/server/config/load";
import type { Db, DbLike } from "@/server/db/client";
import { githubIssues, requests } from "@/server/db/schema";
import { ValidationError } from "@/server/errors";
import { cancelRequest } from "@/server/requests/cancel";
import { fileIntake, readIntake } from "@/server/requests/intake";
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
export async function intakeUser(db: DbLike, config: LoadedConfig): Promise<User> {
  const email = githubOf(config)?.requester;
  const user = email ? await requireUserByEmail(db, email) : await firstAdmin(db);
  if (!user) throw new Error("no user to file GitHub issues as; add one with 'hyperion user add'");
  return user;
}

export async function issueRow(db: Db, fullName: string, number: number) {
  return (
    await db
      .select()
      .from(githubIssues)
      .where(
        and(eq(githubIssues.githubRepo, fullName.toLowerCase()), eq(githubIssues.number, number)),
      )
      .limit(1)
  )[0];
}

/** The request input an issue makes, or why it cannot make one. */
export function requestInput(
  repo: string,
  issue: GithubIssue,
): { input: object } | { refusal: string } {
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
export async function fileIssue(
  db: Db,
  config: LoadedConfig,
  fullName: string,
  issue: GithubIssue,
  now = Date.now(),
): Promise<{ requestId: number | null; refusal: string | null }> {
  const repo = repoFor(config, fullName);
  if (!repo) return { requestId: null, refusal: `no repository takes work from ${fullName}` };
  const key = fullName.toLowerCase();
  const existing = await issueRow(db, key, issue.number);
  if (existing?.requestId) return { requestId: existing.requestId, refusal: null };
  const made = requestInput(repo.name, issue);
  let requestId: number | null = null;
  let refusal: string | null = "refusal" in made ? made.refusal : null;
  const intake =
    "input" in made ? await readIntake(config, "github", made.input, { newFiles: false }) : null;
  await db.transaction(async (tx) => {
    if (intake) {
      try {
        const [created] = await fileIntake(tx, config, intake, await intakeUser(tx, config));
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
    if (existing) await tx.update(githubIssues).set(values).where(eq(githubIssues.id, existing.id));
    else
      await tx
        .insert(githubIssues)
        .values({ githubRepo: key, number: issue.number, createdAt: now, ...values });
  });
  return { requestId, refusal };
}

/** A closed issue cancels its request, if it is not finished yet. */
export async function issueClosed(
  db: Db,
  config: LoadedConfig,
  fullName: string,
  number: number,
): Promise<string> {
  const row = await issueRow(db, fullName, number);
  if (!row?.requestId) return "no request to cancel";
  const [request] = await db.select().from(requests).where(eq(requests.id, row.requestId)).limit(1);
  if (!request || FINISHED.includes(request.status))
    return `R${row.requestId} is already ${request?.status}`;
  await cancelRequest(
    db,
    row.requestId,
    await intakeUser(db, config),
    `its GitHub issue #${number} was closed`,
  );
  return `R${row.requestId} cancelled`;
}
