import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { appendEvent, eventsAfter, followEvents, LiveInput } from "./log";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

describe("events", () => {
  it("filter by entity on the server", async () => {
    const start = (await eventsAfter(world.db, "request", 0, 10_000)).at(-1)?.id ?? 0;
    for (const entityId of [1, 2, 1, 3, 1])
      await appendEvent(world.db, { topic: "request", type: "x", entityId, payload: {} });
    expect((await eventsAfter(world.db, "request", start, 200, 1)).map((e) => e.entityId)).toEqual([
      1, 1, 1,
    ]);
    const abort = new AbortController();
    const seen: number[] = [];
    for await (const e of followEvents(world.db, "request", start, abort.signal, 2)) {
      seen.push(e.entityId ?? 0);
      abort.abort();
    }
    expect(seen).toEqual([2]);
  });

  it("a live input names a positive entity id", () => {
    expect(LiveInput.safeParse({ entityId: 0 }).success).toBe(false);
    expect(LiveInput.safeParse({ entityId: "1" }).success).toBe(false);
    expect(LiveInput.safeParse({ afterId: 5, entityId: 7 }).success).toBe(true);
  });
});
