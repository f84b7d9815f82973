import { eq } from "drizzle-orm";
import { queueEntries, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { createRequests } from "@/server/requests/service";
import type { User } from "@/server/users/service";
import type { TestWorld } from "./fixtures";

// A request through the whole path without agents: filed, planned and developed by the
// built-in developer (advance), its change queued and the queue run until it is empty.

/** Runs the queue loop in drain mode (until nothing is left to do), then one dispatch pass. */
export async function drainQueue(world: TestWorld): Promise<void> {
  await runQueueLoop({
    db: world.db,
    config: () => world.config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0 },
    shouldStop: () => false,
  });
  await advance(world.db, world.config, "d");
}

/**
 * Files a request for one file (by `requester`, the admin unless given), develops it and drains
 * the queue; returns the request's id, its task and the queue entry of the task's change.
 */
export async function fileAndQueue(
  world: TestWorld,
  req: { file: string; title: string; requester?: User },
) {
  const [r] = await createRequests(world.db, {
    input: { title: req.title, description: "", repo: "demo", files: [req.file] },
    requester: req.requester ?? world.admin,
    config: world.config,
    source: "cli",
  });
  await advance(world.db, world.config, "d");
  await drainQueue(world);
  const [task] = await world.db
    .select()
    .from(tasks)
    .where(eq(tasks.requestId, r?.id ?? 0))
    .limit(1);
  const [entry] = await world.db
    .select()
    .from(queueEntries)
    .where(eq(queueEntries.changeRequestId, task?.changeRequestId ?? 0))
    .limit(1);
  return { requestId: r?.id ?? 0, task, entry };
}
