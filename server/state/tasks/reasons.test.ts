import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { REASON_MAX } from "@/schemas/bounded";
import { events, tasks } from "@/server/db/schema";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { blockTask, moveTask } from "./store";

// A reason is bounded at its one writer: whatever a caller passes, a task keeps at most
// REASON_MAX characters of it, on its row and in its event.

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

async function seedClaimed(id: string) {
  const [request] = await createRequests(world.db, {
    input: { repo: "demo", title: "Explain caps", description: "", files: ["docs/guide.md"] },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  await world.db.insert(tasks).values({
    id,
    requestId: request?.id ?? null,
    repo: "demo",
    title: "task",
    source: "planner",
    createdAt: Date.now(),
    state: "claimed",
    leaseOwner: "w1",
    leaseExpiresAt: Date.now() + 60_000,
    attempts: 1,
  });
}

const huge = `changed ${"out/x, ".repeat(200_000)}`;
const payloads = async (type: string) =>
  (await world.db.select().from(events).where(eq(events.type, type))).map(
    (e) => e.payload as { reason?: string },
  );

describe("task reasons", () => {
  it("moveTask keeps at most REASON_MAX characters of a reason, on the row and in its event", async () => {
    await seedClaimed("t1");
    const row = await world.db.transaction(async (tx) =>
      moveTask(tx, {
        id: "t1",
        from: "claimed",
        to: "failed",
        owner: "w1",
        attempt: 1,
        set: { blockedReason: huge },
        event: { reason: huge },
      }),
    );
    expect(row.blockedReason?.length).toBeLessThanOrEqual(REASON_MAX);
    expect(row.blockedReason).toMatch(/^changed out\/x, out\/x, .*more characters\)$/);
    const [event] = await payloads("task.failed");
    expect(event?.reason).toBe(row.blockedReason);
  });

  it("blockTask does too", async () => {
    await seedClaimed("t2");
    const row = await world.db.transaction(async (tx) =>
      blockTask(tx, { id: "t2", state: "claimed", reason: huge }),
    );
    expect(row.blockedReason?.length).toBeLessThanOrEqual(REASON_MAX);
    expect((await payloads("task.blocked"))[0]?.reason).toBe(row.blockedReason);
  });
});
