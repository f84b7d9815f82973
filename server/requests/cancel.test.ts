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

const file = async (requester = world.admin, files = ["docs/guide.md"]) =>
  (
    await createRequests(world.db, {
      input: { title: "Explain caps", description: "", repo: "demo", files },
      requester,
      config: world.config,
      source: "cli",
    })
  )[0]?.id ?? 0;
const status = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;

describe("cancelling a request", () => {
  it("a requester cancels their planned request: its pending tasks fail, nothing is dispatched", async () => {
    const requester = await world.userWith("requester");
    const id = await file(requester);
    await planRequest(world.db, world.config, id);
    const res = await cancelRequest(world.db, id, requester, "not needed");
    expect(res.status).toBe("cancelled");
    expect(
      (await world.db.select().from(tasks).where(eq(tasks.requestId, id)).limit(1))[0],
    ).toMatchObject({
      state: "failed",
      blockedReason: "request cancelled",
    });
    expect(await dispatchOnce(world.db, world.config, "d")).toEqual([]);
    await advance(world.db, world.config, "d");
    expect(await status(id)).toBe("cancelled");
  });

  it("rejects its changes still waiting in the queue", async () => {
    const id = await file();
    await advance(world.db, world.config, "d");
    const [task] = await world.db.select().from(tasks).where(eq(tasks.requestId, id)).limit(1);
    expect(task?.state).toBe("submitted");
    const res = await cancelRequest(world.db, id, world.admin);
    expect(res.rejectedEntries).toHaveLength(1);
    const [entry] = await world.db
      .select()
      .from(queueEntries)
      .where(eq(queueEntries.changeRequestId, task?.changeRequestId ?? 0))
      .limit(1);
    expect(entry?.state).toBe("rejected");
    await advance(world.db, world.config, "d");
    expect(await status(id)).toBe("cancelled");
  });

  it("is refused, writing nothing, for a finished request, another's request, or work in hand", async () => {
    const requester = await world.userWith("requester");
    const stranger = await world.userWith("requester");
    const reviewer = await world.userWith("reviewer");
    const id = await file(requester);
    await planRequest(world.db, world.config, id);
    await expect((async () => cancelRequest(world.db, id, stranger))()).rejects.toThrow(
      ForbiddenError,
    );
    await expect((async () => cancelRequest(world.db, id, reviewer))()).rejects.toThrow(
      ForbiddenError,
    );
    await dispatchOnce(world.db, world.config, "d");
    await expect((async () => cancelRequest(world.db, id, requester))()).rejects.toThrow(
      ConflictError,
    );
    expect(await status(id)).not.toBe("cancelled");
    const other = await file(requester, ["docs/other.md"]);
    await planRequest(world.db, world.config, other);
    await cancelRequest(world.db, other, requester);
    const again = await (async () => {
      try {
        await cancelRequest(world.db, other, requester);
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
