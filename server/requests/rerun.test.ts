import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { queueEntries, requests, tasks } from "@/server/db/schema";
import { ForbiddenError, NotFoundError } from "@/server/errors";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { drainQueue, fileAndQueue } from "@/test-support/queue-world";
import { rerunRequest } from "./rerun";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const statusOf = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;

function setTestCheck(command: string) {
  const repo = world.config.repositories[0];
  if (!repo?.policy) throw new Error("policy");
  repo.policy.checks = { ...repo.policy.checks, test: command };
}

describe("running a failed request again", () => {
  it("its requester sees it fail on a check, runs it again once the cause is fixed, and it lands", async () => {
    const ana = await world.userWith("requester");
    setTestCheck(`node -e "console.log('totals are off by a cent'); process.exit(1)"`);
    const first = await fileAndQueue(world, {
      file: "src/cart/cart.js",
      title: "Round totals",
      requester: ana,
    });
    expect(first.entry?.state).toBe("quarantined");
    expect(first.entry?.lastError?.outputTail).toContain("totals are off by a cent");
    expect(await statusOf(first.requestId)).toBe("failed");

    // Someone else's request is not hers to run again.
    const bob = await world.userWith("requester");
    await expect((async () => rerunRequest(world.db, first.requestId, bob))()).rejects.toThrow(
      ForbiddenError,
    );

    setTestCheck("npm test");
    const res = await rerunRequest(world.db, first.requestId, ana);
    expect(res).toMatchObject({ tasks: [first.task?.id], setAside: [first.entry?.id] });
    expect(await statusOf(first.requestId)).toBe("in_progress");
    expect(
      (
        await world.db
          .select()
          .from(queueEntries)
          .where(eq(queueEntries.id, first.entry?.id ?? 0))
          .limit(1)
      )[0]?.state,
    ).toBe("rejected");
    expect(
      (
        await world.db
          .select()
          .from(tasks)
          .where(eq(tasks.id, first.task?.id ?? ""))
          .limit(1)
      )[0]?.state,
    ).toBe("pending");

    const { advance } = await import("@/server/dispatch/advance");
    await advance(world.db, world.config, "d");
    await drainQueue(world);
    expect(await statusOf(first.requestId)).toBe("done");
    // Only a failed request can be run again.
    await expect((async () => rerunRequest(world.db, first.requestId, ana))()).rejects.toThrow(
      /is done; only a failed request can be run again/,
    );
  });

  it("refuses an unknown request", async () => {
    await expect((async () => rerunRequest(world.db, 999, world.admin))()).rejects.toThrow(
      /no request R999/,
    );
    await expect((async () => rerunRequest(world.db, 999, world.admin))()).rejects.toThrow(
      NotFoundError,
    );
  });
});
