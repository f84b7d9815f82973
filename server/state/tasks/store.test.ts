import { eq, like } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type TaskState, taskStates } from "@/schemas/task-state";
import { changeRequests, events, queueEntries, tasks } from "@/server/db/schema";
import { dispatchOnce } from "@/server/dispatch/dispatch";
import { planRequest } from "@/server/planning/plan";
import { submitChanges } from "@/server/queue/submit";
import { createRequests } from "@/server/requests/service";
import { developTask } from "@/server/runs/develop";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { taskMachine } from "./states";
import { blockTask, IllegalTaskMove, moveTask, TaskMoveConflict } from "./store";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const fileRequest = async (files = ["docs/guide.md"]) =>
  (
    await createRequests(world.db, {
      input: { repo: "demo", title: "Explain caps", description: "", files },
      requester: world.admin,
      config: world.config,
      source: "cli",
    })
  )[0]?.id ?? 0;

let seeded = 0;
/** A task row in `state`; a claimed one is held by "w1" on attempt 1. */
const seed = async (state: TaskState, request?: number) => {
  const requestId = request ?? (await fileRequest());
  const id = `t${++seeded}`;
  await world.db.insert(tasks).values({
    id,
    requestId,
    repo: "demo",
    title: "task",
    source: "planner",
    createdAt: Date.now(),
    state,
    ...(state === "claimed"
      ? { leaseOwner: "w1", leaseExpiresAt: Date.now() + 60_000, attempts: 1 }
      : {}),
  });
  return id;
};
const row = async (id: string) =>
  (await world.db.select().from(tasks).where(eq(tasks.id, id)).limit(1))[0];
const taskEvents = async (id: string) =>
  (await world.db.select().from(events).where(like(events.type, "task.%"))).filter(
    (e) => (e.payload as { task?: string }).task === id,
  );
const count = async (table: typeof changeRequests | typeof queueEntries) =>
  (await world.db.select().from(table)).length;

const legal = taskStates.flatMap((from) =>
  taskMachine.moves[from].map((to) => [from, to] as const),
);
const illegal = taskStates.flatMap((from) =>
  taskStates.filter((to) => !taskMachine.can(from, to)).map((to) => [from, to] as const),
);

describe("the task state table", () => {
  it.each(legal)("%s → %s moves the task and writes its event in one step", async (from, to) => {
    const requestId = await fileRequest();
    const id = await seed(from, requestId);
    const moved = await moveTask(world.db, {
      id,
      from,
      to,
      ...(from === "claimed" ? { owner: "w1", attempt: 1 } : {}),
      ...(to === "claimed" ? { owner: "w2", attempt: 1 } : {}),
      set: to === "claimed" ? { leaseExpiresAt: Date.now() + 1000 } : { blockedReason: "why" },
      event: { reason: "why" },
    });
    expect(moved.state).toBe(to);
    expect(await row(id)).toMatchObject(
      to === "claimed"
        ? { state: to, leaseOwner: "w2", attempts: 1 }
        : { state: to, leaseOwner: null, leaseExpiresAt: null, blockedReason: "why" },
    );
    const [event, ...more] = await taskEvents(id);
    expect(more).toEqual([]);
    expect(event).toMatchObject({
      topic: "request",
      type: `task.${to}`,
      entityId: requestId,
      payload: { task: id, from, to, reason: "why" },
    });
  });

  it.each(illegal)("%s → %s is refused and writes nothing", async (from, to) => {
    const id = await seed(from);
    const before = await row(id);
    await expect(
      (async () =>
        moveTask(world.db, { id, from, to, owner: "w1", attempt: 1, event: { reason: "no" } }))(),
    ).rejects.toThrow(IllegalTaskMove);
    expect(await row(id)).toEqual(before);
    expect(await taskEvents(id)).toEqual([]);
  });

  it("a move from a state the task has left is a conflict and writes nothing", async () => {
    const id = await seed("done");
    await expect(
      (async () =>
        moveTask(world.db, { id, from: "submitted", to: "failed", event: { reason: "late" } }))(),
    ).rejects.toThrow(TaskMoveConflict);
    expect((await row(id))?.state).toBe("done");
    expect(await taskEvents(id)).toEqual([]);
  });

  it("leaving a lease needs its owner and attempt", async () => {
    const id = await seed("claimed");
    await expect(
      (async () => moveTask(world.db, { id, from: "claimed", to: "failed", event: {} }))(),
    ).rejects.toThrow(IllegalTaskMove);
    expect((await row(id))?.state).toBe("claimed");
  });

  it("a blocked task records why, only while it is still pending", async () => {
    const id = await seed("pending");
    await blockTask(world.db, { id, state: "pending", reason: "Waiting on R1.1" });
    expect(await row(id)).toMatchObject({ state: "pending", blockedReason: "Waiting on R1.1" });
    expect((await taskEvents(id)).map((e) => e.type)).toEqual(["task.blocked"]);
    const claimed = await seed("claimed");
    await expect(
      (async () => blockTask(world.db, { id: claimed, state: "pending", reason: "x" }))(),
    ).rejects.toThrow(TaskMoveConflict);
    expect((await row(claimed))?.blockedReason).toBeNull();
  });
});

describe("leases", () => {
  const plannedTask = async () => {
    const id = await fileRequest();
    await planRequest(world.db, world.config, id);
    return `${id}.1`;
  };

  it("a worker whose lease expired and was re-claimed cannot finish the task", async () => {
    const id = await plannedTask();
    const now = Date.now();
    const [stale] = await dispatchOnce(world.db, world.config, "d1", now, 1000);
    expect((await dispatchOnce(world.db, world.config, "d2", now + 5000)).map((t) => t.id)).toEqual(
      [id],
    );
    if (!stale) throw new Error("nothing claimed");
    await expect(
      (async () =>
        moveTask(world.db, {
          id,
          from: "claimed",
          to: "failed",
          owner: stale.leaseOwner,
          attempt: stale.attempts,
          event: { reason: "too late" },
        }))(),
    ).rejects.toThrow(TaskMoveConflict);
    // The built-in developer with the stale claim stops quietly: no change, no overwrite.
    expect(await developTask(world.db, world.config, stale)).toEqual({ leaseLost: true });
    expect(await row(id)).toMatchObject({ state: "claimed", leaseOwner: "d2", attempts: 2 });
    expect(await count(changeRequests)).toBe(0);
    expect(
      (await taskEvents(id)).map((e) => [e.type, (e.payload as { reason?: string }).reason]),
    ).toEqual([
      ["task.claimed", undefined],
      ["task.pending", "lease expired; dispatched again"],
      ["task.claimed", undefined],
    ]);
  });

  it("the developer holding the lease submits its change and moves the task in one step", async () => {
    const id = await plannedTask();
    const [claimed] = await dispatchOnce(world.db, world.config, "d1");
    if (!claimed) throw new Error("nothing claimed");
    const out = await developTask(world.db, world.config, claimed);
    expect(out).toMatchObject({ changeRequestId: expect.any(Number) });
    const [change] = await world.db.select().from(changeRequests).limit(1);
    expect(await row(id)).toMatchObject({
      state: "submitted",
      changeRequestId: change?.id,
      leaseOwner: null,
    });
    expect((await taskEvents(id)).at(-1)).toMatchObject({
      type: "task.submitted",
      payload: { from: "claimed", to: "submitted", changeRequestId: change?.id },
    });
  });

  it("a submission whose task move fails is rolled back whole", async () => {
    const id = await plannedTask();
    const [claimed] = await dispatchOnce(world.db, world.config, "d1");
    if (!claimed) throw new Error("nothing claimed");
    const repo = world.config.repositories[0];
    const patch = [
      "diff --git a/docs/new.md b/docs/new.md",
      "new file mode 100644",
      "--- /dev/null",
      "+++ b/docs/new.md",
      "@@ -0,0 +1 @@",
      "+hello",
      "",
    ].join("\n");
    const submit = submitChanges(
      world.db,
      {
        taskId: id,
        repo: "demo",
        targetBranch: repo?.targetBranch,
        patch,
        summary: "new page",
        author: { name: "a", email: "a@example.test" },
      },
      world.config,
      {
        within: async (tx, [change]) => {
          await moveTask(tx, {
            id,
            from: "claimed",
            to: "submitted",
            owner: "d1",
            attempt: claimed.attempts + 1, // not this lease's attempt: the CAS fails
            set: { changeRequestId: change?.id ?? null },
            event: {},
          });
        },
      },
    );
    await expect(submit).rejects.toBeInstanceOf(TaskMoveConflict);
    expect(await count(changeRequests)).toBe(0);
    expect(await count(queueEntries)).toBe(0);
    expect(await row(id)).toMatchObject({
      state: "claimed",
      leaseOwner: "d1",
      changeRequestId: null,
    });
    expect((await taskEvents(id)).map((e) => e.type)).toEqual(["task.claimed"]);
  });
});
