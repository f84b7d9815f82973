import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, metaItems, queueEntries } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { dispatchOnce } from "@/server/dispatch/dispatch";
import { ForbiddenError, ValidationError } from "@/server/errors";
import { planRequest } from "@/server/planning/plan";
import { failQa } from "@/server/qa/service";
import { waitingSteers } from "@/server/runs/steers";
import { createRun, moveRun } from "@/server/state/runs/store";
import { moveTask } from "@/server/state/tasks/store";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import type { User } from "@/server/users/service";
import { metaQueue } from "@/server/views/meta";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import {
  addApiRepo,
  file,
  footprint,
  requestLog,
  statusOf,
  tasksOf,
} from "@/test-support/meta-world";
import { drainQueue } from "@/test-support/queue-world";
import { applyPendingMetaItems } from "./apply";
import { submitMetaItem } from "./submit";

// Operators' items in the workspace meta queue: overrides (priority, pause, resume), cancel and
// restart directives, each applied once by its source event id however often it is delivered.

let world: TestWorld;
let operator: User;
beforeEach(async () => {
  world = await makeWorld();
  operator = await world.userWith("operator");
  await addApiRepo(world);
});
afterEach(() => world.cleanup());

const submit = (input: Record<string, unknown>, user = operator) =>
  submitMetaItem(world.db, world.config, user, input);
const metaEvents = async (type: string) =>
  (await world.db.select().from(events).where(eq(events.type, type))).length;

describe("overrides from the meta queue", () => {
  it("a pause holds a repository's tasks and a resume lets them go; each applies once when delivered twice", async () => {
    const pause = { kind: "pause", repo: "api", sourceEventId: "ops-7", note: "release freeze" };
    const first = await submit(pause);
    expect(first.item).toMatchObject({ state: "applied", repo: "api", by: operator.email });
    expect(await submit(pause)).toEqual({ repeated: true, item: first.item });
    expect(await world.db.select().from(metaItems)).toHaveLength(1);
    expect(await metaEvents("meta.applied")).toBe(1);

    const api = await file(world, { title: "API", repo: "api", files: ["src/cart/cart.js"] });
    const web = await file(world, { title: "Web", repo: "demo", files: ["src/cart/cart.js"] });
    await advance(world.db, world.config, "d");
    // The other repository goes on; the paused one says why it waits.
    expect(await statusOf(world, web)).toBe("in_progress");
    const [held] = await tasksOf(world, api);
    expect(held?.state).toBe("pending");
    expect(held?.blockedReason).toBe(
      `Paused by an operator (meta item #${first.item.id}, ${operator.email}): no task of api is dispatched until it is resumed. release freeze`,
    );
    expect((await metaQueue(world.db)).paused.map((p) => p.repo)).toEqual(["api"]);

    const resume = { kind: "resume", repo: "api", sourceEventId: "ops-8" };
    expect((await submit(resume)).item.effect).toBe("api resumed: its tasks are dispatched again");
    expect((await submit(resume)).repeated).toBe(true);
    await advance(world.db, world.config, "d");
    await drainQueue(world);
    expect(await statusOf(world, api)).toBe("done");
    expect((await metaQueue(world.db)).paused).toEqual([]);
  });

  it("a request's priority puts its task first where two want the same lock", async () => {
    const first = await file(world, { title: "One", repo: "demo", files: ["src/cart/cart.js"] });
    const second = await file(world, { title: "Two", repo: "demo", files: ["src/cart/cart.js"] });
    const high = {
      kind: "priority",
      request: `R${second}`,
      priority: "high",
      sourceEventId: "p-1",
    };
    await submit(high);
    await submit(high);
    await advance(world.db, world.config, "d");
    const [a] = await tasksOf(world, first);
    const [b] = await tasksOf(world, second);
    expect(b?.state).toBe("submitted");
    expect(a?.state).toBe("pending");
    expect(a?.blockedReason).toMatch(new RegExp(`^Lock conflict: R${b?.id} currently holds`));
    expect((await metaQueue(world.db)).priorities).toEqual([
      expect.objectContaining({ target: `R${second}`, priority: "high" }),
    ]);
  });
});

describe("cancel and restart from the meta queue", () => {
  it("a cancel withdraws the request's queued change and closes it, once for two deliveries", async () => {
    const id = await file(world, { title: "Drop me", repo: "demo", files: ["src/cart/cart.js"] });
    await advance(world.db, world.config, "d"); // developed: its change waits in the queue
    const cancel = { kind: "cancel", request: id, sourceEventId: "gh-delivery-4411" };
    const first = await submit(cancel);
    expect(first.item.state).toBe("applied");
    expect(first.item.effect).toMatch(
      new RegExp(
        `^R${id} cancelled: its pending tasks closed, its waiting changes Q\\d+ withdrawn`,
      ),
    );
    expect(await statusOf(world, id)).toBe("cancelled");
    const entries = await world.db.select().from(queueEntries);
    expect(entries.map((e) => e.state)).toEqual(["rejected"]);
    const log = await requestLog(world);

    const again = await submit(cancel);
    expect(again).toEqual({ repeated: true, item: first.item });
    expect(await requestLog(world)).toEqual(log);
  });

  it("a cancel while an agent holds a task waits, pending, and the worker applies it once", async () => {
    const id = await file(world, { title: "Busy", repo: "demo", files: ["src/cart/cart.js"] });
    await planRequest(world.db, world.config, id);
    // Take its task as an agent's worker would, and keep it.
    const [claimed] = await dispatchOnce(world.db, world.config, "agent-host");
    const cancel = { kind: "cancel", request: id, sourceEventId: "c-2" };
    const first = await submit(cancel);
    expect(first.item.state).toBe("pending");
    expect(first.item.effect).toBe(
      `waiting: task ${claimed?.id} is being worked on; cancel again once its change is submitted`,
    );
    expect((await submit(cancel)).repeated).toBe(true);
    // The agent gives the task back (its lease lost); the worker's pass applies the cancel.
    await moveTask(world.db, {
      id: claimed?.id ?? "",
      from: "claimed",
      to: "pending",
      owner: "agent-host",
      attempt: claimed?.attempts ?? 0,
      event: {},
    });
    expect(await applyPendingMetaItems(world.db)).toBe(1);
    expect(await applyPendingMetaItems(world.db)).toBe(0);
    expect(await statusOf(world, id)).toBe("cancelled");
    expect(await metaEvents("meta.applied")).toBe(1);
  });

  it("a restart plans a cancelled request again, and it lands", async () => {
    const id = await file(world, { title: "Again", repo: "api", files: ["src/cart/cart.js"] });
    await submit({ kind: "cancel", request: id, sourceEventId: "r-1" });
    expect(await statusOf(world, id)).toBe("cancelled");
    const restart = { kind: "restart", request: `R${id}`, sourceEventId: "r-2" };
    const first = await submit(restart);
    expect(first.item).toMatchObject({
      state: "applied",
      effect: `R${id} restarted (it was cancelled): the worker plans it again`,
    });
    expect(await statusOf(world, id)).toBe("received");
    expect((await submit(restart)).repeated).toBe(true);
    await advance(world.db, world.config, "d");
    await drainQueue(world);
    expect(await statusOf(world, id)).toBe("done");
    // A restart of a request that has landed is refused, and recorded so.
    const late = await submit({ kind: "restart", request: id, sourceEventId: "r-3" });
    expect(late.item).toMatchObject({
      state: "refused",
      effect: `R${id} is done; only a failed or cancelled request can be restarted`,
    });
  });
});

describe("a restart of a failed request", () => {
  it("supersedes its failed task and plans it again", async () => {
    // The built-in developer cannot edit JSON: the request fails at once.
    const id = await file(world, { title: "Bump", repo: "demo", files: ["package.json"] });
    await advance(world.db, world.config, "d");
    expect(await statusOf(world, id)).toBe("failed");
    const res = await submit({ kind: "restart", request: id, sourceEventId: "rf-1" });
    expect(res.item).toMatchObject({
      state: "applied",
      effect: `R${id} restarted (it was failed): the worker plans it again; tasks ${id}.1 superseded`,
    });
    expect((await tasksOf(world, id)).map((t) => t.state)).toEqual(["superseded"]);
    await advance(world.db, world.config, "d");
    expect((await tasksOf(world, id)).map((t) => t.state)).toEqual(["superseded", "failed"]);
  });
});

describe("steering from the meta queue", () => {
  it("reaches a live run once for two deliveries; an ended run's steering is refused", async () => {
    const id = await file(world, { title: "Steer", repo: "demo", files: ["src/cart/cart.js"] });
    const run = await createRun(world.db, {
      taskId: `${id}.1`,
      requestId: id,
      repo: "demo",
      agent: "command",
      owner: "w",
      taskAttempt: 1,
    });
    const steer = {
      kind: "steer",
      run: run.id,
      command: "append_context",
      message: "The API moved to /v2.",
      sourceEventId: "s-1",
    };
    const first = await submit(steer);
    expect(first.item).toMatchObject({
      state: "applied",
      requestId: id,
      effect: `append_context sent to run ${run.id}: its supervisor applies it within a tick`,
    });
    expect((await submit(steer)).repeated).toBe(true);
    const waiting = await waitingSteers(world.db, run.id);
    expect(waiting.map((w) => [w.command, w.reason, w.sourceEventId])).toEqual([
      ["append_context", "The API moved to /v2.", "s-1"],
    ]);

    await moveRun(world.db, { id: run.id, from: "starting", to: "failed" });
    const late = await submit({ ...steer, sourceEventId: "s-2" });
    expect(late.item).toMatchObject({
      state: "refused",
      effect: `run ${run.id} is failed; only a starting, running or checking run can be steered`,
    });
    expect(await waitingSteers(world.db, run.id)).toHaveLength(1);
  });
});

describe("bad meta-queue input is refused, naming the field, and nothing is written", () => {
  const refusal = async (input: Record<string, unknown>) => {
    const before = await footprint(world);
    const err = await submit(input).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(await footprint(world)).toEqual(before);
    return (err as ValidationError).issues;
  };

  it("an override naming an unknown repository", async () => {
    expect(await refusal({ kind: "pause", repo: "nope", sourceEventId: "u-1" })).toEqual([
      { path: "repo", message: "unknown repository 'nope'; repositories: demo, api" },
    ]);
    expect(
      await refusal({ kind: "priority", repo: "nope", priority: "high", sourceEventId: "u-2" }),
    ).toEqual([{ path: "repo", message: "unknown repository 'nope'; repositories: demo, api" }]);
  });

  it("messages with control characters: an item's note, a steering message, QA notes", async () => {
    const id = await file(world, { title: "T", repo: "demo", files: ["src/cart/cart.js"] });
    expect(
      await refusal({ kind: "cancel", request: id, note: "stop\u0007now", sourceEventId: "n-1" }),
    ).toEqual([
      {
        path: "note",
        message:
          "contains a control character (U+0007) at position 5; remove it (tabs and line breaks are fine)",
      },
    ]);
    expect(
      await refusal({
        kind: "steer",
        run: 1,
        command: "append_context",
        message: "use \u001b[31mred",
        sourceEventId: "n-2",
      }),
    ).toEqual([
      {
        path: "message",
        message:
          "contains a control character (U+001B) at position 5; remove it (tabs and line breaks are fine)",
      },
    ]);
    const before = await footprint(world);
    const qa = await failQa(world.db, world.config, { requestId: id, notes: "bad\u0000" }, operator)
      .then(() => null)
      .catch((e: ValidationError) => e.issues);
    expect(qa).toEqual([
      {
        path: "notes",
        message:
          "contains a control character (U+0000) at position 4; remove it (tabs and line breaks are fine)",
      },
    ]);
    expect(await footprint(world)).toEqual(before);
  });

  it("an unknown kind, a missing source event id, a run that does not exist, a reused id", async () => {
    expect((await refusal({ kind: "reboot", sourceEventId: "k-1" }))[0]?.path).toBe("kind");
    expect(await refusal({ kind: "pause", repo: "api" })).toEqual([
      { path: "sourceEventId", message: "is required: the id of the event this item comes from" },
    ]);
    expect(
      await refusal({
        kind: "steer",
        run: 42,
        command: "append_context",
        message: "hi",
        sourceEventId: "k-2",
      }),
    ).toEqual([{ path: "run", message: "run 42 does not exist" }]);
    const first = await submit({ kind: "pause", repo: "api", sourceEventId: "k-3" });
    expect(await refusal({ kind: "resume", repo: "api", sourceEventId: "k-3" })).toEqual([
      {
        path: "sourceEventId",
        message: `'k-3' already names meta item #${first.item.id} (pause), a different item; a new item needs a new id`,
      },
    ]);
  });

  it("a requester may not submit, through the service or the API (FORBIDDEN)", async () => {
    const requester = await world.userWith("requester");
    await expect(
      submit({ kind: "pause", repo: "api", sourceEventId: "f-1" }, requester),
    ).rejects.toThrow(ForbiddenError);
    const caller = (user: User | null) =>
      createCallerFactory(appRouter)({
        db: world.db,
        env: world.env,
        user,
        crossOrigin: false,
        via: "session",
      });
    await expect(
      caller(requester).meta.submit({ kind: "pause", repo: "api", sourceEventId: "f-2" }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    const item = { kind: "pause", repo: "demo", sourceEventId: "f-3" };
    const viaApi = await caller(operator).meta.submit(item);
    expect(viaApi.item.state).toBe("applied");
    expect((await caller(operator).meta.submit(item)).repeated).toBe(true);
    expect((await caller(operator).meta.list()).items.map((i) => i.sourceEventId)).toEqual(["f-3"]);
  });
});
