import type { Octokit } from "@octokit/rest";
import { and, eq, isNotNull } from "drizzle-orm";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { githubIssues, requests } from "@/server/db/schema";
import { log } from "@/server/log";
import { githubOf } from "./config";
import { fileIssue, type GithubIssue, issueClosed } from "./issues";

// The safety backstop behind the webhook (the seeds: "reconciliation polling is a required
// safety backstop"): each mapped repository's open labelled issues are listed and compared with
// the requests. A missed delivery is picked up, a closed issue cancels, nothing is filed twice.
// Idle cost: one conditional request per repository per interval — GitHub does not count a 304
// against the rate limit — plus one read per linked issue that left the list.

const FINISHED = ["done", "failed", "cancelled", "rolled_back"];

/** The last ETag of each repository's list, so an unchanged list costs a free 304. */
const etags = new Map<string, string>();

export async function reconcile(
  db: Db,
  config: LoadedConfig,
  client: Octokit,
): Promise<{ calls: number; filed: number; cancelled: number }> {
  const settings = githubOf(config);
  const out = { calls: 0, filed: 0, cancelled: 0 };
  if (!settings) return out;
  for (const repo of config.repositories) {
    if (!repo.github) continue;
    const [owner = "", name = ""] = repo.github.split("/");
    const key = repo.github.toLowerCase();
    let open: GithubIssue[];
    try {
      out.calls++;
      const res = await client.rest.issues.listForRepo({
        owner,
        repo: name,
        labels: settings.label,
        state: "open",
        per_page: 100,
        headers: etags.has(key) ? { "if-none-match": etags.get(key) } : {},
      });
      if (res.headers.etag) etags.set(key, res.headers.etag);
      open = res.data as GithubIssue[];
    } catch (err) {
      if ((err as { status?: number }).status === 304) continue; // unchanged since the last list
      log.warn(
        { repo: repo.github, error: err instanceof Error ? err.message : String(err) },
        "could not list issues",
      );
      continue;
    }
    const openNumbers = new Set<number>();
    for (const issue of open) {
      if (issue.pull_request) continue;
      openNumbers.add(issue.number);
      const [before] = await db
        .select({ requestId: githubIssues.requestId })
        .from(githubIssues)
        .where(and(eq(githubIssues.githubRepo, key), eq(githubIssues.number, issue.number)))
        .limit(1);
      if (before?.requestId) continue;
      if ((await fileIssue(db, config, repo.github, issue)).requestId) out.filed++;
    }
    // Linked issues that left the open list: closed (or unlabelled). A closed one cancels.
    const linked = (
      await db
        .select({ number: githubIssues.number, status: requests.status })
        .from(githubIssues)
        .innerJoin(requests, eq(requests.id, githubIssues.requestId))
        .where(and(eq(githubIssues.githubRepo, key), isNotNull(githubIssues.requestId)))
    ).filter((r) => !openNumbers.has(r.number) && !FINISHED.includes(r.status));
    for (const r of linked) {
      try {
        out.calls++;
        const { data } = await client.rest.issues.get({
          owner,
          repo: name,
          issue_number: r.number,
        });
        if (data.state === "closed") {
          await issueClosed(db, config, repo.github, r.number);
          out.cancelled++;
        }
      } catch (err) {
        log.warn(
          { issue: `${repo.github}#${r.number}`, error: String(err) },
          "could not read the issue",
        );
      }
    }
  }
  return out;
}

/** Forgets the ETags (tests start each from a fresh list). */
export function forgetEtags(): void {
  etags.clear();
}
