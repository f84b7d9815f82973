import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { queueEntries, requests, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { dispatchOnce } from "@/server/dispatch/dispatch";
import { ConflictError, ForbiddenError, ValidationError } from "@/server/errors";
import { planRequest } from "@/server/planning/plan";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { cancelRequest } from "./cancel";
import { createRequests } from "./service";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const file = (requester = world.admin, files = ["docs/guide.md"]) =>
  createRequests(world.db, {
    input: { title: "Explain caps", description: "", repo: "demo", files },
    requester,
    config: world.config,
    source: "cli",
  })[0]?.id ?? 0;
const status = (id: number) =>
  world.db.select().from(requests).where(eq(requests.id, id)).get()?.status;

describe("cancelling a request", () => {
  it("a requester cancels their planned request: its pending tasks fail, nothing is dispatched", async () => {
    const requester = await world.userWith("requester");
    const id = file(requester);
    await planRequest(world.db, world.config, id);
    const res = cancelRequest(world.db, id, requester, "not needed");
    expect(res.status).toBe("cancelled");
    expect(world.db.select().from(tasks).where(eq(tasks.requestId, id)).get()).toMatchObject({
      state: "failed",
      blockedReason: "request cancelled",
    });
    expect(dispatchOnce(world.db, world.config, "d")).toEqual([]);
    await advance(world.db, world.config, "d");
    expect(status(id)).toBe("cancelled");
  });

  it("rejects its changes still waiting in the queue", async () => {
    const id = file();
    await advance(world.db, world.config, "d");
    const task = world.db.select().from(tasks).where(eq(tasks.requestId, id)).get();
    expect(task?.state).toBe("submitted");
    const res = cancelRequest(world.db, id, world.admin);
    expect(res.rejectedEntries).toHaveLength(1);
    const entry = world.db
      .select()
      .from(queueEntries)
      .where(eq(queueEntries.changeRequestId, task?.changeRequestId ?? 0))
      .get();
    expect(entry?.state).toBe("rejected");
    await advance(world.db, world.config, "d");
    expect(status(id)).toBe("cancelled");
  });

  it("is refused, writing nothing, for a finished request, another's request, or work in hand", async () => {
    const requester = await world.userWith("requester");
    const stranger = await world.userWith("requester");
    const reviewer = await world.userWith("reviewer");
    const id = file(requester);
    await planRequest(world.db, world.config, id);
    expect(() => cancelRequest(world.db, id, stranger)).toThrow(ForbiddenError);
    expect(() => cancelRequest(world.db, id, reviewer)).toThrow(ForbiddenError);
    dispatchOnce(world.db, world.config, "d");
    expect(() => cancelRequest(world.db, id, requester)).toThrow(ConflictError);
    expect(status(id)).not.toBe("cancelled");
    const other = file(requester, ["docs/other.md"]);
    await planRequest(world.db, world.config, other);
    cancelRequest(world.db, other, requester);
    const again = (() => {
      try {
        cancelRequest(world.db, other, requester);
      } catch (err) {
        return err;
      }
    })();
    expect(again).toBeInstanceOf(ValidationError);
    expect((again as ValidationError).issues[0]?.message).toBe(
      `request ${other} is cancelled; only an unfinished request can be cancelled`,
    );
  });
});
