import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { changeRequests, requests } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { ValidationError } from "@/server/errors";
import type { User } from "@/server/users/service";
import { requestPage } from "@/server/views/request-page";
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
import { submitMetaItem } from "./submit";

// Dependencies between requests of different repositories: R2 in `demo` waits for R1 in `api`
// to land. Whether filed with the request or added from the meta queue, none of the waiting
// request's tasks is dispatched before the other request is done, and it fails if that fails.

let world: TestWorld;
let operator: User;
beforeEach(async () => {
  world = await makeWorld();
  operator = await world.userWith("operator");
  await addApiRepo(world);
});
afterEach(() => world.cleanup());

const submit = (input: Record<string, unknown>) =>
  submitMetaItem(world.db, world.config, operator, input);

/** Nothing of `id` has been dispatched yet: no claim in the log, no change submitted. */
async function nothingDispatched(id: number, log: string[]) {
  expect(log.filter((l) => l.startsWith(`R${id} task.claimed`))).toEqual([]);
  const tasks = await tasksOf(world, id);
  expect(tasks.length).toBeGreaterThan(0);
  expect(tasks.every((t) => t.state === "pending" && t.changeRequestId === null)).toBe(true);
}

describe("a cross-repository dependency", () => {
  it("filed with the request, holds it until the other lands, then lets it through", async () => {
    const api = await file(world, {
      title: "Add the cart API",
      repo: "api",
      files: ["src/cart/cart.js"],
    });
    const web = await file(world, {
      title: "Show the cart",
      repo: "demo",
      files: ["src/cart/cart.js"],
      dependsOn: [api],
    });
    await advance(world.db, world.config, "d");
    // api's change waits in the queue; web's task waits for it, saying so.
    expect(await statusOf(world, api)).toBe("in_progress");
    await nothingDispatched(web, await requestLog(world));
    const [held] = await tasksOf(world, web);
    expect(held?.blockedReason).toBe(`Waiting on request ${api} in api to land`);
    const page = await requestPage(world.db, web);
    expect(page?.dependencies).toEqual([
      expect.objectContaining({
        id: api,
        repo: "api",
        status: "in_progress",
        crossRepo: true,
        satisfied: false,
        why: `R${web} waits until R${api} in api lands (all its changes merged): none of its tasks is dispatched before`,
      }),
    ]);

    await drainQueue(world); // api lands; the pass after it dispatches web
    await drainQueue(world);
    expect(await statusOf(world, api)).toBe("done");
    expect(await statusOf(world, web)).toBe("done");
    const log = await requestLog(world);
    // Not one claim of web's before api was done.
    expect(log.indexOf(`R${web} task.claimed`)).toBeGreaterThan(
      log.indexOf(`R${api} request.status done`),
    );
    expect((await requestPage(world.db, web))?.dependencies[0]).toMatchObject({
      satisfied: true,
      why: `R${api} in api has landed: satisfied`,
    });
  });

  it("fails the waiting request, naming the other, when the other fails", async () => {
    // The built-in developer cannot edit JSON: api's request fails at once.
    const api = await file(world, { title: "Bump the API", repo: "api", files: ["package.json"] });
    const web = await file(world, {
      title: "Use the new API",
      repo: "demo",
      files: ["src/cart/cart.js"],
      dependsOn: [api],
    });
    await advance(world.db, world.config, "d");
    await advance(world.db, world.config, "d");
    expect(await statusOf(world, api)).toBe("failed");
    expect(await statusOf(world, web)).toBe("failed");
    const [task] = await tasksOf(world, web);
    expect(task?.state).toBe("failed");
    expect(task?.blockedReason).toBe(
      `request #${api} in api, which this request depends on, failed; file it again once that is resolved`,
    );
    expect((await requestLog(world)).filter((l) => l.startsWith(`R${web} task.claimed`))).toEqual(
      [],
    );
    expect(
      await world.db.select().from(changeRequests).where(eq(changeRequests.repo, "demo")),
    ).toEqual([]);
  });

  it("added from the meta queue, holds a request already planned, once for two deliveries", async () => {
    const api = await file(world, {
      title: "Add the API",
      repo: "api",
      files: ["src/cart/cart.js"],
    });
    const web = await file(world, { title: "Call it", repo: "demo", files: ["src/cart/cart.js"] });
    // api is paused, so that it cannot land before web is told to wait for it.
    await submit({ kind: "pause", repo: "api", sourceEventId: "board-1" });
    const item = { kind: "depend", request: `R${web}`, on: api, sourceEventId: "board-2" };
    const first = await submit(item);
    expect(first).toMatchObject({ repeated: false, item: { state: "applied", requestId: web } });
    expect(first.item.effect).toBe(
      `R${web} (demo) waits for R${api} (api) to land: none of its tasks is dispatched before, and it fails if R${api} (api) fails`,
    );
    const again = await submit(item);
    expect(again).toEqual({ repeated: true, item: first.item });
    const [row] = await world.db.select().from(requests).where(eq(requests.id, web));
    expect(row?.dependsOn).toEqual([api]);

    await advance(world.db, world.config, "d");
    await nothingDispatched(web, await requestLog(world));
    await submit({ kind: "resume", repo: "api", sourceEventId: "board-3" });
    await advance(world.db, world.config, "d");
    await drainQueue(world);
    await drainQueue(world);
    expect(await statusOf(world, web)).toBe("done");
    const log = await requestLog(world);
    expect(log.indexOf(`R${web} task.claimed`)).toBeGreaterThan(
      log.indexOf(`R${api} request.status done`),
    );
  });
});

describe("bad dependencies are refused, naming the field, and nothing is written", () => {
  it("a cycle across repositories, named", async () => {
    const web = await file(world, { title: "Web", repo: "demo", files: ["src/cart/cart.js"] });
    const api = await file(world, {
      title: "API",
      repo: "api",
      files: ["src/cart/cart.js"],
      dependsOn: [web],
    });
    const before = await footprint(world);
    const err = await submit({
      kind: "depend",
      request: web,
      on: api,
      sourceEventId: "cycle-1",
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.issues).toEqual([
      {
        path: "on",
        message: `dependency cycle: R${web} (demo) → R${api} (api) → R${web} (demo) (each waits for the next); nothing was written`,
      },
    ]);
    // A request waiting for itself is the shortest cycle.
    const self = await submit({ kind: "depend", request: web, on: web, sourceEventId: "cycle-2" })
      .then(() => null)
      .catch((e: ValidationError) => e.issues);
    expect(self).toEqual([
      {
        path: "on",
        message: `dependency cycle: R${web} (demo) → R${web} (demo) (each waits for the next); nothing was written`,
      },
    ]);
    expect(await footprint(world)).toEqual(before);
  });

  it("a request that does not exist, on either side", async () => {
    const before = await footprint(world);
    const err = await submit({
      kind: "depend",
      request: 98,
      on: "R99",
      sourceEventId: "x-1",
    }).catch((e) => e);
    expect(err.issues).toEqual([
      { path: "request", message: "request R98 does not exist" },
      { path: "on", message: "request R99 does not exist" },
    ]);
    expect(await footprint(world)).toEqual(before);
  });

  it("a request that has finished cannot start waiting: refused, recorded as such, nothing else", async () => {
    const api = await file(world, { title: "API", repo: "api", files: ["src/cart/cart.js"] });
    const web = await file(world, { title: "Bump", repo: "demo", files: ["package.json"] });
    await advance(world.db, world.config, "d");
    expect(await statusOf(world, web)).toBe("failed");
    const res = await submit({ kind: "depend", request: web, on: api, sourceEventId: "late-1" });
    expect(res.item).toMatchObject({
      state: "refused",
      effect: `R${web} (demo) is failed; only a request that has not finished can wait for another`,
    });
    const [row] = await world.db.select().from(requests).where(eq(requests.id, web));
    expect(row?.dependsOn).toEqual([]);
  });
});
