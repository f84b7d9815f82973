import type { Db } from "@/server/db/client";
import { log } from "@/server/log";
import { applyPendingMetaItems } from "./apply";

/**
 * The worker's pass over the workspace meta queue: items whose effect had to wait (a cancel
 * while an agent holds a task) or whose submitter's process died between recording and applying
 * are applied once they can be. One pass at a time; `stop` waits for the pass in hand.
 */
export function startMetaQueue(db: Db, intervalMs: number): { stop: () => Promise<void> } {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = applyPendingMetaItems(db)
      .catch((err: Error) => log.warn({ err: err.message }, "meta queue pass failed"))
      .finally(() => {
        running = null;
      });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
