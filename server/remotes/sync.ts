import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { fetchRemote, RemoteError, type RemoteRepo } from "@/server/git/remote";
import { log } from "@/server/log";
import { startPasses } from "@/server/workers/passes";
import { recordFailed, recordFetched } from "./status";

/** The repositories of a config that live on a git server. */
export const remoteRepos = (config: LoadedConfig) => config.repositories.filter((r) => r.remote);

/** Fetches one remote into its mirror and records the outcome; the tip, or null on failure. */
export async function syncRemote(db: Db, repo: RemoteRepo): Promise<string | null> {
  try {
    const tip = await fetchRemote(repo);
    await recordFetched(db, repo, tip);
    return tip;
  } catch (err) {
    const e =
      err instanceof RemoteError
        ? err
        : new RemoteError("unreachable", err instanceof Error ? err.message : String(err));
    await recordFailed(db, repo, e.failure, e.message);
    log.warn({ repo: repo.name, failure: e.failure, error: e.message }, "fetch failed");
    return null;
  }
}

/**
 * When this process last fetched each remote into its mirror. Not the database's `fetchedAt`:
 * with several hosts every host keeps a mirror of its own, and another host's fetch does not
 * bring this one's up to date.
 */
const fetchedHere = new Map<string, number>();

/**
 * One pass of the worker's fetch loop: each remote whose interval has passed since this host
 * last fetched it is fetched (`all`: every remote, as at start). A webhook's push fetches its
 * repository itself (github/intake.ts).
 */
export async function syncDue(
  db: Db,
  config: LoadedConfig,
  opts: { now?: number; all?: boolean } = {},
): Promise<number> {
  const now = opts.now ?? Date.now();
  let n = 0;
  for (const repo of remoteRepos(config)) {
    const last = fetchedHere.get(repo.name) ?? 0;
    const interval = (repo.fetchIntervalSeconds ?? 60) * 1000;
    if (!opts.all && last && now - last < interval) continue;
    fetchedHere.set(repo.name, now);
    await syncRemote(db, repo);
    n++;
  }
  return n;
}

/**
 * The worker's fetch loop: every few seconds, the remotes whose interval has passed are fetched,
 * one pass at a time (a slow server delays only the next pass, never a queue thread).
 */
export function startFetcher(
  db: Db,
  config: () => LoadedConfig,
  tickMs = 5_000,
): { stop: () => Promise<void> } {
  const { stop } = startPasses(tickMs, "fetch pass failed", () => syncDue(db, config()));
  return { stop };
}
