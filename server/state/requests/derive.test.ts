import fs from "node:fs";
import path from "node:path";
import { and, asc, desc, eq, like } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, queueEntries, requests, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { retryEntry } from "@/server/queue/retry";
import { rollbackEntry } from "@/server/queue/rollback";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { createRequests } from "../../requests/service";
import { deriveRequestStatus } from "./derive";

describe("a request's status, derived from its tasks and changes", () => {
  it.each([
    [[], null],
    [[["pending", null]], "planned"],
    [
      [
        ["claimed", null],
        ["pending", null],
      ],
      "in_progress",
    ],
    [
      [
        ["done", "merged"],
        ["submitted", "queued"],
      ],
      "in_progress",
    ],
    [
      [
        ["done", "merged"],
        ["done", "merged"],
      ],
      "done",
    ],
    [
      [
        ["done", "merged"],
        ["done", "rolled_back"],
      ],
      "rolled_back",
    ],
    [
      [
        ["failed", "quarantined"],
        ["done", "merged"],
      ],
      "failed",
    ],
    [
      [
        ["failed", "quarantined"],
        ["claimed", null],
      ],
      "in_progress",
    ],
    // A change waiting for a reviewer is what its requester waits on, even with work still moving.
    [
      [
        ["submitted", "awaiting_approval"],
        ["claimed", null],
      ],
      "awaiting_approval",
    ],
    [
      [
        ["done", "merged"],
        ["submitted", "awaiting_approval"],
      ],
      "awaiting_approval",
    ],
  ] as const)("%j → %s", (work, expected) => {
    expect(deriveRequestStatus(work.map(([state, entryState]) => ({ state, entryState })))).toBe(
      expected,
    );
  });
});

describe("the whole path", () => {
  let world: TestWorld;
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(() => world.cleanup());

  const drain = () =>
    runQueueLoop({
      db: world.db,
      config: () => world.config,
      owner: "q",
      opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, maxAttempts: 1 },
      shouldStop: () => false,
    });
  const status = async (id: number) =>
    (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;

  it("a quarantined change retried after the worktree is cleaned makes its request done; a rollback makes it rolled_back", async () => {
    const repo = world.config.repositories[0]?.path ?? "";
    const [r] = await createRequests(world.db, {
      input: { title: "Explain caps", description: "", repo: "demo", files: ["docs/guide.md"] },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    const id = r?.id ?? 0;
    // Local edits in the checked-out worktree: the landing refuses to overwrite them.
    const readme = path.join(repo, "README.md");
    const before = fs.readFileSync(readme, "utf8");
    fs.appendFileSync(readme, "local edit\n");
    await advance(world.db, world.config, "d");
    await drain();
    await advance(world.db, world.config, "d");
    expect(await status(id)).toBe("failed");
    const [task] = await world.db.select().from(tasks).where(eq(tasks.requestId, id)).limit(1);
    const [entry] = await world.db
      .select()
      .from(queueEntries)
      .where(eq(queueEntries.changeRequestId, task?.changeRequestId ?? 0))
      .limit(1);
    expect(entry?.state).toBe("quarantined");

    fs.writeFileSync(readme, before);
    await retryEntry(world.db, entry?.id ?? 0, "operator@example.test");
    await drain();
    await advance(world.db, world.config, "d");
    expect(await status(id)).toBe("done");
    expect(
      (await world.db.select().from(tasks).where(eq(tasks.requestId, id)).limit(1))[0]?.state,
    ).toBe("done");
    // Every queue move of its change reached the request's own event stream.
    const moves = (
      await world.db
        .select({ type: events.type })
        .from(events)
        .where(and(eq(events.entityId, id), like(events.type, "change.%")))
        .orderBy(asc(events.id))
    ).map((e) => e.type);
    expect(moves).toEqual(
      expect.arrayContaining(["change.quarantined", "change.queued", "change.merged"]),
    );

    await rollbackEntry(world.db, world.config, entry?.id ?? 0);
    await drain();
    await advance(world.db, world.config, "d");
    expect(await status(id)).toBe("rolled_back");
    const [last] = await world.db
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.entityId, id), eq(events.type, "request.status")))
      .orderBy(desc(events.id))
      .limit(1);
    const reason = (last?.payload as { reason?: string } | undefined)?.reason;
    expect(reason).toBe(`change #${task?.changeRequestId} was rolled back`);
  });
});
