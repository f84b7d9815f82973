import { eq } from "drizzle-orm";
import type { LoadedRepository } from "@/schemas/config";
import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { queueEntries } from "@/server/db/schema";
import type { PullRequestRef } from "@/server/db/schema/queue";
import { pushRef, RemoteError } from "@/server/git/remote";
import { log } from "@/server/log";
import { moveUnleased } from "@/server/state/queue/store";
import { githubClient } from "./forge-client";
import { syncRemote } from "./sync";

// Land "pull-request" (protected branches): a change's commit, built and checked on the tip as
// any other, goes out on its own branch `hyperion/q<entry>` with a pull request into the target
// branch. The forge's branch protections, checks and merge queue have the last word; Hyperion
// follows the pull request and records it merged (with the forge's merge commit) or, closed
// without merging, rejected. The seeds' "merge queue on protected branches as a safety net".

const ownerAndName = (repo: LoadedRepository) => {
  const [owner = "", name = ""] = (repo.github ?? "").split("/");
  return { owner, repo: name };
};

function apiError(err: unknown, what: string): RemoteError {
  const status = (err as { status?: number }).status;
  const message = `${what}: ${err instanceof Error ? err.message : String(err)}`;
  if (status === 401 || status === 403) return new RemoteError("auth", message);
  if (status && status >= 400 && status < 500) return new RemoteError("refused", message);
  return new RemoteError("unreachable", message);
}

/**
 * Pushes the commit to the entry's branch and opens its pull request (or finds the one a
 * crashed attempt already opened). RemoteError when the server or the API fails.
 */
export async function openPullRequest(
  config: LoadedConfig,
  repo: LoadedRepository,
  entryId: number,
  commit: string,
  text: { title: string; body: string },
): Promise<PullRequestRef> {
  if (!config.github)
    throw new RemoteError("refused", "the config has no github section to open pull requests with");
  const branch = `hyperion/q${entryId}`;
  await pushRef(repo, commit, `refs/heads/${branch}`);
  let client: Awaited<ReturnType<typeof githubClient>>;
  try {
    client = githubClient(config.github);
  } catch (err) {
    throw new RemoteError("auth", err instanceof Error ? err.message : String(err));
  }
  const where = ownerAndName(repo);
  try {
    const open = await client.rest.pulls.list({
      ...where,
      head: `${where.owner}:${branch}`,
      state: "open",
    });
    const found = open.data[0];
    if (found) return { number: found.number, url: found.html_url, branch };
    const made = await client.rest.pulls.create({
      ...where,
      head: branch,
      base: repo.targetBranch,
      title: text.title.slice(0, 250),
      body: text.body,
    });
    return { number: made.data.number, url: made.data.html_url, branch };
  } catch (err) {
    throw apiError(err, `opening the pull request for ${branch} failed`);
  }
}

/**
 * Follows the open pull requests: merged → the entry is merged (with the forge's merge commit,
 * and the mirror fetched); closed without merging → rejected. One read per open pull request.
 */
export async function followPullRequests(db: Db, config: LoadedConfig): Promise<number> {
  if (!config.github) return 0;
  const open = await db.select().from(queueEntries).where(eq(queueEntries.state, "in_review"));
  if (open.length === 0) return 0;
  const client = githubClient(config.github);
  let moved = 0;
  for (const entry of open) {
    const repo = config.repositories.find((r) => r.name === entry.repo);
    const pr = entry.pullRequest;
    if (!repo || !pr) continue;
    try {
      const { data } = await client.rest.pulls.get({
        ...ownerAndName(repo),
        pull_number: pr.number,
      });
      if (data.merged) {
        await syncRemote(db, repo);
        await moveUnleased(db, entry.id, {
          from: "in_review",
          to: "merged",
          by: "forge",
          note: `pull request #${pr.number} merged`,
          ...(data.merge_commit_sha ? { mergedCommit: data.merge_commit_sha } : {}),
        });
        moved++;
      } else if (data.state === "closed") {
        await moveUnleased(db, entry.id, {
          from: "in_review",
          to: "rejected",
          by: "forge",
          error: {
            kind: "review_rejected",
            message: `pull request #${pr.number} was closed without merging`,
            paths: [],
          },
        });
        moved++;
      }
    } catch (err) {
      log.warn(
        {
          entry: entry.id,
          pullRequest: pr.url,
          error: err instanceof Error ? err.message : String(err),
        },
        "could not read the pull request",
      );
    }
  }
  return moved;
}
