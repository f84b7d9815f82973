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

function newRun() {
  const [request] = createRequests(world.db, {
    input: { repo: "demo", title: "Explain caps", description: "", files: ["docs/guide.md"] },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  return world.db.transaction((tx) =>
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

const runRow = (id: number) => world.db.select().from(agentRuns).where(eq(agentRuns.id, id)).get();

describe("recordRunEvents", () => {
  it("stores a batch of any size, in bounded statements", () => {
    const run = newRun();
    // One statement of 20 000 rows (60 000 parameters) was "too many SQL variables".
    const batch: AgentEvent[] = Array.from({ length: 20_000 }, (_, i) => ({
      kind: "message",
      text: `line ${i}`,
    }));
    world.db.transaction((tx) => recordRunEvents(tx, run, batch));
    const stored = world.db
      .select({ event: agentRunEvents.event })
      .from(agentRunEvents)
      .where(eq(agentRunEvents.runId, run.id))
      .all();
    expect(stored).toHaveLength(20_000);
    expect(stored.at(-1)?.event).toEqual({ kind: "message", text: "line 19999" });
  });

  it("adopts only the session id it is told to, never one from the batch", () => {
    const run = newRun();
    world.db.transaction((tx) =>
      recordRunEvents(tx, run, [{ kind: "session", sessionId: "real" }], { adoptSession: "real" }),
    );
    world.db.transaction((tx) =>
      recordRunEvents(tx, run, [{ kind: "session", sessionId: "forged" }]),
    );
    expect(runRow(run.id)?.sessionId).toBe("real");
    const kinds = world.db
      .select({ event: agentRunEvents.event })
      .from(agentRunEvents)
      .where(eq(agentRunEvents.runId, run.id))
      .all()
      .map((r) => r.event);
    expect(kinds).toEqual([
      { kind: "session", sessionId: "real" },
      { kind: "session", sessionId: "forged" },
    ]);
  });
});

describe("moveRun", () => {
  it("bounds the reason it stores; the request's copy of the event carries its short form", () => {
    const run = newRun();
    const huge = `the agent changed files outside its task: ${"out/x, ".repeat(200_000)}`;
    const moved = world.db.transaction((tx) =>
      moveRun(tx, { id: run.id, from: "starting", to: "failed", set: { reason: huge } }),
    );
    const reason = moved.reason ?? "";
    expect(reason.length).toBeLessThanOrEqual(REASON_MAX);
    expect(reason).toMatch(/^the agent changed files outside its task: out\/x, /);
    expect(reason).toMatch(/… \([\d ]+ more characters\)$/);
    expect(runRow(run.id)?.reason).toBe(reason);
    const failed = (topic: "run" | "request", entityId: number) =>
      world.db
        .select()
        .from(events)
        .where(
          and(
            eq(events.topic, topic),
            eq(events.type, "run.failed"),
            eq(events.entityId, entityId),
          ),
        )
        .get()?.payload as { reason?: string } | undefined;
    expect(failed("run", run.id)?.reason).toBe(reason);
    const brief = failed("request", run.requestId ?? 0)?.reason ?? "";
    expect(brief.length).toBeLessThanOrEqual(REASON_BRIEF);
    expect(brief).toMatch(/^the agent changed files outside its task: out\/x, /);
  });
});
