import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { requests } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { getEntry } from "@/server/state/queue/store";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { drainQueue, fileAndQueue } from "@/test-support/queue-world";
import { listHistory } from "../views/history";
import { requestDetail } from "../views/request-detail";
import { approveEntry, openDiff } from "./service";

// A requester follows her own change while it waits for a reviewer: her request says so (not
// "In progress"), she can read its diff without being a reviewer, and she can list her requests
// by it.

let world: TestWorld;
let requester: User;
let reviewer: User;
beforeEach(async () => {
  world = await makeWorld({ gates: true });
  requester = await world.userWith("requester");
  reviewer = await world.userWith("reviewer");
});
afterEach(() => world.cleanup());

const status = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;
const callerFor = (user: User | null) =>
  createCallerFactory(appRouter)({ db: world.db, env: world.env, user, origin: null } as never);

describe("a change waiting for a reviewer, as its requester sees it", () => {
  it("the request is awaiting_approval while its change waits, then done once approved and landed", async () => {
    const { requestId, entry } = await fileAndQueue(world, {
      file: "src/cart/cart.js",
      title: "Touch the cart",
      requester,
    });
    if (!entry) throw new Error("no entry");
    expect((await getEntry(world.db, entry.id))?.state).toBe("awaiting_approval");
    expect(await status(requestId)).toBe("awaiting_approval");

    // History's status filter lists it under its own name, and not under "in progress".
    const waiting = await listHistory(world.db, {
      status: "awaiting_approval",
      sort: "new",
      limit: 50,
    });
    expect(waiting.rows.map((r) => r.id)).toEqual([requestId]);
    const moving = await listHistory(world.db, { status: "in_progress", sort: "new", limit: 50 });
    expect(moving.rows.map((r) => r.id)).not.toContain(requestId);

    // She reads the diff read-only: the same patch a reviewer is shown.
    const change = (await requestDetail(world.db, requestId))?.changes[0];
    expect(change).toMatchObject({ state: "awaiting_approval", risk: "medium" });
    const diff = await callerFor(requester).request.changeDiff({ changeId: change?.id ?? 0 });
    const shown = await openDiff(world.db, entry.id, reviewer);
    expect(diff.patch).toBe(shown.patch);
    expect(diff.patch).toContain("src/cart/cart.js");
    // …but deciding stays a reviewer's.
    await expect(callerFor(requester).approval.diff({ entryId: entry.id })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });

    await approveEntry(
      world.db,
      world.config,
      { entryId: entry.id, patchHash: shown.patchHash },
      reviewer,
    );
    expect(await status(requestId)).toBe("in_progress");
    await drainQueue(world);
    await advance(world.db, world.config, "d");
    expect(await status(requestId)).toBe("done");
  });

  it("an unknown change is a NOT_FOUND naming it, and no session is UNAUTHORIZED", async () => {
    await expect(callerFor(requester).request.changeDiff({ changeId: 999 })).rejects.toMatchObject({
      code: "NOT_FOUND",
      message: expect.stringContaining("C999"),
    });
    await expect(callerFor(null).request.changeDiff({ changeId: 1 })).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
  });
});
