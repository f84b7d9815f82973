import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, queueEntries, requests, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { retryEntry } from "../../queue/retry";
import { givenUpReason } from "./carry";
import { claimNext } from "./claim";
import { defaultQueueOptions, type Entry, moveUnleased, transition } from "./store";

/**
 * A queue entry's move carries its task, and then its request, along in its own transaction:
 * nobody has to copy the change's outcome into them afterwards.
 */
let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

/** A request whose one task the built-in developer has done: its change waits in the queue. */
async function submitted() {
  const id =
    (
      await createRequests(world.db, {
        input: { repo: "demo", title: "Add a note", description: "", files: ["docs/guide.md"] },
        requester: world.admin,
        config: world.config,
        source: "cli",
      })
    )[0]?.id ?? 0;
  await advance(world.db, world.config, "d");
  expect((await task(id))?.state).toBe("submitted");
  const entry = await claimNext(world.db, "w1", defaultQueueOptions);
  if (!entry) throw new Error("nothing queued");
  return { id, entry };
}
const task = async (requestId: number) =>
  (await world.db.select().from(tasks).where(eq(tasks.requestId, requestId)).limit(1))[0];
const statusOf = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;
const lastEventId = async () =>
  (await world.db.select({ id: events.id }).from(events)).at(-1)?.id ?? 0;
/** The events written since `after`, as "type reason". */
const since = async (after: number) =>
  (await world.db.select().from(events))
    .filter((e) => e.id > after)
    .map((e) => {
      const p = e.payload as { status?: string; reason?: string };
      return [e.type, p.status, p.reason].filter(Boolean).join(" ");
    });
const quarantine = async (entry: Entry) =>
  transition(world.db, entry, {
    from: "applying",
    to: "quarantined",
    owner: "w1",
    error: { kind: "check_failed", message: "tests failed", paths: [] },
  });

describe("an entry's move carries its task and request", () => {
  it("a merge makes its submitted task done and its request done, in the merge's transaction", async () => {
    const { id, entry } = await submitted();
    const before = await lastEventId();
    await transition(world.db, entry, {
      from: "applying",
      to: "merged",
      owner: "w1",
      mergedCommit: "c",
    });
    expect((await task(id))?.state).toBe("done");
    expect(await statusOf(id)).toBe("done");
    expect(await since(before)).toEqual(["change.merged", "task.done", "request.status done"]);
  });

  it("a quarantine fails its task and, with nothing else running, its request, saying why", async () => {
    const { id, entry } = await submitted();
    const before = await lastEventId();
    await quarantine(entry);
    expect(await task(id)).toMatchObject({
      state: "failed",
      blockedReason: "change quarantined: tests failed",
    });
    expect(await since(before)).toEqual([
      "change.quarantined",
      "task.failed change quarantined: tests failed",
      "request.status failed task 1.1 failed: change quarantined: tests failed",
    ]);
  });

  it("a rejection without a reason says who rejected it and that none was given, never a bare colon", async () => {
    const id =
      (
        await createRequests(world.db, {
          input: { repo: "demo", title: "Add a note", description: "", files: ["docs/guide.md"] },
          requester: world.admin,
          config: world.config,
          source: "cli",
        })
      )[0]?.id ?? 0;
    await advance(world.db, world.config, "d");
    const entry = (await world.db.select().from(queueEntries)).at(-1);
    if (!entry) throw new Error("nothing queued");
    await moveUnleased(world.db, entry.id, {
      from: entry.state,
      to: "rejected",
      by: "user:ops@example.test",
    });
    expect(await task(id)).toMatchObject({
      state: "failed",
      blockedReason: "change rejected by ops@example.test; no reason was given",
    });
  });

  it("words a given-up change's reason: the person's note, else the entry's error, else none given", () => {
    const error = { kind: "check_failed" as const, message: "tests failed", paths: [] };
    expect(
      givenUpReason({ lastError: null }, "rejected", {
        by: "ana@example.test",
        note: "its request was cancelled",
      }),
    ).toBe("change rejected by ana@example.test: its request was cancelled");
    expect(givenUpReason({ lastError: error }, "quarantined", { by: "w1" })).toBe(
      "change quarantined: tests failed",
    );
    expect(
      givenUpReason({ lastError: { ...error, message: "  " } }, "rejected", { by: "w1" }),
    ).toBe("change rejected; no reason was given");
  });

  it("an operator's retry that merges makes the failed task done, and its request done again", async () => {
    const { id, entry } = await submitted();
    await quarantine(entry);
    await retryEntry(world.db, entry.id, "user:ops@example.test");
    const again = await claimNext(world.db, "w1", defaultQueueOptions);
    if (!again) throw new Error("not queued again");
    await transition(world.db, again, {
      from: "applying",
      to: "merged",
      owner: "w1",
      mergedCommit: "c",
    });
    expect(await task(id)).toMatchObject({ state: "done", blockedReason: null });
    expect(await statusOf(id)).toBe("done");
  });

  it("a roll-back of a done request's change rolls the request back in the same move", async () => {
    const { id, entry } = await submitted();
    await transition(world.db, entry, {
      from: "applying",
      to: "merged",
      owner: "w1",
      mergedCommit: "c",
    });
    const before = await lastEventId();
    await moveUnleased(world.db, entry.id, { from: "merged", to: "rolled_back", by: "w2" });
    expect((await task(id))?.state).toBe("done");
    expect(await statusOf(id)).toBe("rolled_back");
    expect(await since(before)).toEqual([
      `change.rolled_back`,
      `request.status rolled_back change #${entry.changeRequestId} was rolled back`,
    ]);
  });

  it("a move that decides nothing for the task leaves it and its request as they are", async () => {
    const { id, entry } = await submitted();
    const before = await lastEventId();
    await transition(world.db, entry, { from: "applying", to: "ready", owner: "w1" });
    expect((await task(id))?.state).toBe("submitted");
    expect(await since(before)).toEqual(["change.ready"]);
  });
});
