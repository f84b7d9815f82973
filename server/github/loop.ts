import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { namedSecret } from "@/server/env.mjs";
import { log } from "@/server/log";
import { followPullRequests } from "@/server/remotes/forge";
import { GithubTokenMissing, githubClient } from "@/server/remotes/forge-client";
import { startPasses } from "@/server/workers/passes";
import { syncComments } from "./comments";
import { githubOf } from "./config";
import { handleDeliveries } from "./intake";
import { reconcile } from "./reconcile";

/**
 * The worker's GitHub loop: stored deliveries handled as they come (every tick), issues
 * reconciled at the configured interval, status comments brought up to date. One pass at a
 * time; a slow or failing API delays only the next pass.
 */
export function startGithub(
  db: Db,
  config: () => LoadedConfig,
  tickMs = 1_000,
): { stop: () => Promise<void> } {
  let lastReconcile = 0;
  const pass = async () => {
    const c = config();
    const settings = githubOf(c);
    if (!settings) return;
    await handleDeliveries(db, c);
    let client: Awaited<ReturnType<typeof githubClient>>;
    try {
      client = githubClient(settings);
    } catch (err) {
      if (err instanceof GithubTokenMissing) return; // said once at start; deliveries still land
      throw err;
    }
    const every = settings.reconcileIntervalSeconds * 1000;
    if (every > 0 && Date.now() - lastReconcile >= every) {
      lastReconcile = Date.now();
      await reconcile(db, c, client);
    }
    // Land "pull-request": the forge's merges and closes recorded on their entries.
    await followPullRequests(db, c);
    await syncComments(db, c, client);
  };
  const passes = startPasses(tickMs, "GitHub pass failed", pass);
  const settings = githubOf(config());
  if (settings && !namedSecret(settings.tokenEnv))
    log.warn(
      { variable: settings.tokenEnv },
      "GitHub intake: the token variable is not set; deliveries are taken but issues are not reconciled or commented on",
    );
  return { stop: passes.stop };
}
