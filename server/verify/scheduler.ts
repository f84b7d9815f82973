import type { LoadedConfig } from "@/server/config/load";
import type { Db } from "@/server/db/client";
import { log } from "@/server/log";
import { verifyDue } from "./verify";

/**
 * The worker's verifier: every `intervalMs`, one pass of verifyDue on the supervisor's own
 * connection (the checks run in confined child processes, so neither the queue threads nor the
 * dispatcher wait for them), never two passes at once. A pass also restarts a verification a
 * dead worker left running. `stop()` lets the check run in hand finish, starts no other, and
 * leaves an unfinished verification running for the next worker to restart.
 */
export function startVerifier(args: {
  db: Db;
  config: () => LoadedConfig;
  owner: string;
  intervalMs: number;
  timeoutMs: number;
}): { stop: () => Promise<void>; pass: () => Promise<void> } {
  let stopping = false;
  let current: Promise<void> | null = null;
  const pass = (): Promise<void> => {
    if (current || stopping) return current ?? Promise.resolve();
    current = Promise.resolve()
      .then(() =>
        verifyDue(args.db, args.config(), {
          owner: args.owner,
          timeoutMs: args.timeoutMs,
          shouldStop: () => stopping,
        }),
      )
      .then(
        () => undefined,
        // A bad config keeps the last good one (currentConfig); anything else is logged, and
        // the next pass tries again.
        (err: Error) => log.error({ err: err.message }, "post-merge verification pass failed"),
      )
      .finally(() => {
        current = null;
      });
    return current;
  };
  const timer = setInterval(() => void pass(), args.intervalMs);
  return {
    pass,
    async stop() {
      stopping = true;
      clearInterval(timer);
      await current;
    },
  };
}
