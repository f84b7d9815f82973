import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import { REASON_BRIEF, REASON_MAX } from "@/schemas/bounded";
import { agentRunEvents, agentRuns, events } from "@/server/db/schema";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { createRun, moveRun, recordRunEvents } from "./store";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

async function newRun() {
  const [request] = await createRequests(world.db, {
    input: { repo: "demo", title: "Explain caps", description: "", files: ["docs/guide.md"] },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  return world.db.transaction(async (tx) =>
    createRun(tx, {
      taskId: "t1",
      requestId: request?.id ?? null,
      repo: "demo",
      agent: "command",
      owner: "w1",
      taskAttempt: 1,
    }),
  );
}

const runRow = async (id: number) =>
  (await world.db.select().from(agentRuns).where(eq(agentRuns.id, id)).limit(1))[0];

describe("recordRunEvents", () => {
  it("stores a batch of any size, in bounded statements", async () => {
    const run = await newRun();
    // One statement of 20 000 rows (60 000 parameters) was "too many SQL variables".
    const batch: AgentEvent[] = Array.from({ length: 20_000 }, (_, i) => ({
      kind: "message",
      text: `line ${i}`,
    }));
    await world.db.transaction(async (tx) => recordRunEvents(tx, run, batch));
    const stored = await world.db
      .select({ event: agentRunEvents.event })
      .from(agentRunEvents)
      .where(eq(agentRunEvents.runId, run.id));
    expect(stored).toHaveLength(20_000);
    expect(stored.at(-1)?.event).toEqual({ kind: "message", text: "line 19999" });
  });

  it("adopts only the session id it is told to, never one from the batch", async () => {
    const run = await newRun();
    await world.db.transaction(async (tx) =>
      recordRunEvents(tx, run, [{ kind: "session", sessionId: "real" }], { adoptSession: "real" }),
    );
    await world.db.transaction(async (tx) =>
      recordRunEvents(tx, run, [{ kind: "session", sessionId: "forged" }]),
    );
    expect((await runRow(run.id))?.sessionId).toBe("real");
    const kinds = (
      await world.db
        .select({ event: agentRunEvents.event })
        .from(agentRunEvents)
        .where(eq(agentRunEvents.runId, run.id))
    ).map((r) => r.event);
    expect(kinds).toEqual([
      { kind: "session", sessionId: "real" },
      { kind: "session", sessionId: "forged" },
    ]);
  });
});

describe("moveRun", () => {
  it("bounds the reason it stores; the request's copy of the event carries its short form", async () => {
    const run = await newRun();
    const huge = `the agent changed files outside its task: ${"out/x, ".repeat(200_000)}`;
    const moved = await world.db.transaction(async (tx) =>
      moveRun(tx, { id: run.id, from: "starting", to: "failed", set: { reason: huge } }),
    );
    const reason = moved.reason ?? "";
    expect(reason.length).toBeLessThanOrEqual(REASON_MAX);
    expect(reason).toMatch(/^the agent changed files outside its task: out\/x, /);
    expect(reason).toMatch(/… \([\d ]+ more characters\)$/);
    expect((await runRow(run.id))?.reason).toBe(reason);
    const failed = async (topic: "run" | "request", entityId: number) =>
      (
        await world.db
          .select()
          .from(events)
          .where(
            and(
              eq(events.topic, topic),
              eq(events.type, "run.failed"),
              eq(events.entityId, entityId),
            ),
          )
          .limit(1)
      )[0]?.payload as { reason?: string } | undefined;
    expect((await failed("run", run.id))?.reason).toBe(reason);
    const brief = (await failed("request", run.requestId ?? 0))?.reason ?? "";
    expect(brief.length).toBeLessThanOrEqual(REASON_BRIEF);
    expect(brief).toMatch(/^the agent changed files outside its task: out\/x, /);
  });
});
