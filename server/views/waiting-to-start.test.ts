import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { advance } from "@/server/dispatch/advance";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { fileAndQueue } from "@/test-support/queue-world";
import { tasksNamed, waitingToStart } from "./waiting-to-start";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld({ gates: true });
});
afterEach(() => world.cleanup());

describe("tasks waiting to start", () => {
  it("names the task holding the lock, in the id style, and that its change waits for a reviewer", async () => {
    // A medium-risk change waits for a reviewer and keeps its task's file lock.
    const first = await fileAndQueue(world, { file: "src/cart/cart.js", title: "Round the cart" });
    expect(first.entry?.state).toBe("awaiting_approval");
    const [second] = await createRequests(world.db, {
      input: {
        title: "Total the cart",
        description: "",
        repo: "demo",
        files: ["src/cart/cart.js"],
      },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    await advance(world.db, world.config, "d");

    const waiting = await waitingToStart(world.db);
    expect(waiting.total).toBe(1);
    const [task] = waiting.tasks;
    expect(task).toMatchObject({
      id: `${second?.id}.1`,
      request: { id: second?.id, title: "Total the cart" },
      reason: `Lock conflict: R${first.task?.id} currently holds overlapping lock key(s) demo:file:src/cart/cart.js`,
      waitsFor: [
        {
          taskId: first.task?.id,
          state: "submitted",
          change: { entryId: first.entry?.id, state: "awaiting_approval" },
        },
      ],
    });
  });

  it("reads the ids a reason names, and nothing else", () => {
    expect(tasksNamed("Waiting on R2.1, R2.3")).toEqual(["2.1", "2.3"]);
    expect(
      tasksNamed("Lock conflict: R10.2 currently holds overlapping lock key(s) demo:file:R3.js"),
    ).toEqual(["10.2"]);
    expect(tasksNamed("no ids here; R7 is a request")).toEqual([]);
  });
});
