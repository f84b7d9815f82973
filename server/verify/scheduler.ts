import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { type Passes, startPasses } from "@/server/workers/passes";
import { verifyDue } from "./verify";

/**
 * The worker's verifier: every `intervalMs`, one pass of verifyDue on the supervisor's own
 * connection (the checks run in confined child processes, so neither the queue threads nor the
 * dispatcher wait for them), never two passes at once. A pass also restarts a verification a
 * dead worker left running. `stop()` lets the check run in hand finish, starts no other, and
 * leaves an unfinished verification running for the next worker to restart. A bad config keeps
 * the last good one (currentConfig); a pass that fails otherwise is logged, and the next tries
 * again.
 */
export function startVerifier(args: {
  db: Db;
  config: () => LoadedConfig;
  owner: string;
  intervalMs: number;
  timeoutMs: number;
}): Passes {
  return startPasses(args.intervalMs, "post-merge verification pass failed", (stopping) =>
    verifyDue(args.db, args.config(), {
      owner: args.owner,
      timeoutMs: args.timeoutMs,
      shouldStop: stopping,
    }),
  );
}
