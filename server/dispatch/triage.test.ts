import path from "node:path";
import { and, asc, eq } from "drizzle-orm";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import { events, requests, tasks } from "@/server/db/schema";
import { demoPolicy } from "@/server/demo/policy";
import { planRequest } from "@/server/planning/plan";
import { editRequest } from "@/server/requests/edit";
import { createRequests } from "@/server/requests/service";
import { makeWorld, NO_APPROVALS, type TestWorld, worldEnv } from "@/test-support/fixtures";
import { drainQueue } from "@/test-support/queue-world";
import { advance } from "./advance";
import { dispatchOnce } from "./dispatch";

// The seed's rule 6: "Missing `Area` means not runnable — issue returns to triage/spec
// completion". A task whose files no area covers is never dispatched; it goes to triage with the
// seed's reason, and its request to needs_attention once nothing else of it runs, for a reviewer
// or operator to re-scope.

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
  setAreas(demoPolicy.areas ?? []);
});
afterEach(() => world.cleanup());

function setAreas(areas: NonNullable<typeof demoPolicy.areas>) {
  const names = areas.map((a) => a.name);
  // No checks for cart: its change lands without running the demo's npm test.
  const byArea = Object.fromEntries(
    Object.entries({ ...demoPolicy.validation?.byArea, cart: { lint: [], test: [] } }).filter(
      ([name]) => names.includes(name),
    ),
  );
  const policy = Policy.parse({
    ...demoPolicy,
    approvals: NO_APPROVALS,
    qa: { kinds: [] },
    areas,
    validation: { ...demoPolicy.validation, byArea },
  });
  world.config = {
    ...world.config,
    repositories: world.config.repositories.map((r) => ({ ...r, policy })),
  };
}

const file = async (files: string[]) =>
  (
    await createRequests(world.db, {
      input: { title: "Touch files", description: "", repo: "demo", files },
      requester: world.admin,
      config: world.config,
      source: "cli",
    })
  )[0]?.id ?? 0;
const request = async (id: number) =>
  (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0];
const tasksOf = async (id: number) =>
  world.db
    .select({ id: tasks.id, area: tasks.area, state: tasks.state, reason: tasks.blockedReason })
    .from(tasks)
    .where(eq(tasks.requestId, id))
    .orderBy(asc(tasks.id));
const lastStatusReason = async (id: number) =>
  (
    await world.db
      .select({ type: events.type, payload: events.payload, entityId: events.entityId })
      .from(events)
      .where(eq(events.type, "request.status"))
      .orderBy(asc(events.id))
  )
    .filter((e) => e.entityId === id)
    .map((e) => e.payload as { status?: string; reason?: string })
    .at(-1);

const MISSING =
  "Missing Area: not runnable; back to triage for spec completion (no area of the policy covers .github/workflows/ci.yml)";

/**
 * A planned task whose area is missing, as a board item without `Area` is in the seed: the
 * built-in Engineer asks about files in no area rather than plan them, so the test plans the
 * request and then takes its ci task's area away.
 */
async function withoutArea(id: number): Promise<void> {
  await planRequest(world.db, world.config, id);
  await world.db
    .update(tasks)
    .set({ area: null })
    .where(and(eq(tasks.requestId, id), eq(tasks.area, "ci")));
}

describe("a task without an area", () => {
  it("is never dispatched: it goes back to triage with the seed's reason, and its request to needs_attention", async () => {
    const id = await file([".github/workflows/ci.yml"]);
    await withoutArea(id);
    await advance(world.db, world.config, "d");
    expect(await tasksOf(id)).toEqual([
      { id: `${id}.1`, area: null, state: "triage", reason: MISSING },
    ]);
    expect((await request(id))?.status).toBe("needs_attention");
    expect(await lastStatusReason(id)).toMatchObject({
      status: "needs_attention",
      reason: `task ${id}.1: ${MISSING}; a reviewer or operator can re-scope the request`,
    });
    // Later passes leave it where it is.
    expect(await dispatchOnce(world.db, world.config, "d")).toEqual([]);
    // `hyperion status` lists it with the reason.
    const status = await execa("node", [path.resolve("bin/hyperion.mjs"), "status"], {
      env: worldEnv(world),
    });
    expect(status.stdout).toContain(`task R${id}.1 (demo) back to triage: ${MISSING}`);
  });

  it("waits for the request's other tasks: needs_attention once nothing else of it runs", async () => {
    const id = await file(["src/cart/cart.js", ".github/workflows/ci.yml"]);
    await withoutArea(id);
    await advance(world.db, world.config, "d");
    const byArea = async (area: string | null) => (await tasksOf(id)).find((t) => t.area === area);
    expect(await byArea(null)).toMatchObject({ state: "triage", reason: MISSING });
    // The cart task is independent of it: the built-in developer queued its change meanwhile.
    expect((await byArea("cart"))?.state).toBe("submitted");
    expect((await request(id))?.status).toBe("in_progress");
    await drainQueue(world);
    expect((await byArea("cart"))?.state).toBe("done");
    expect((await request(id))?.status).toBe("needs_attention");
  });

  it("a task that waits on the triaged one does not keep its request in progress", async () => {
    const id = await file(["docs/guide.md", ".github/workflows/ci.yml"]);
    await withoutArea(id);
    await advance(world.db, world.config, "d");
    const triaged = (await tasksOf(id)).find((t) => t.area === null);
    // The docs task documents the ci change: it waits for it, so nothing of the request can run.
    expect((await tasksOf(id)).find((t) => t.area === "docs")).toMatchObject({
      state: "pending",
      reason: `Waiting on R${triaged?.id}`,
    });
    expect((await request(id))?.status).toBe("needs_attention");
  });

  it("a re-scope by a reviewer replaces the triaged task with a plan that runs", async () => {
    const id = await file([".github/workflows/ci.yml"]);
    await withoutArea(id);
    await advance(world.db, world.config, "d");
    expect((await request(id))?.status).toBe("needs_attention");
    const reviewer = await world.userWith("reviewer");
    await editRequest(world.db, world.config, id, reviewer, { files: ["docs/guide.md"] });
    expect(await tasksOf(id)).toEqual([
      { id: `${id}.1`, area: null, state: "superseded", reason: MISSING },
      { id: `${id}.2`, area: "docs", state: "pending", reason: null },
    ]);
    expect((await request(id))?.status).toBe("planned");
  });

  it("an area the policy no longer has sends the task back to triage too, naming the areas", async () => {
    const id = await file([".github/workflows/ci.yml"]);
    await planRequest(world.db, world.config, id);
    setAreas((demoPolicy.areas ?? []).filter((a) => a.name !== "ci"));
    await advance(world.db, world.config, "d");
    expect((await tasksOf(id))[0]?.reason).toBe(
      "Area 'ci' is not in the policy: not runnable; back to triage for spec completion (areas: cart, pricing, src, tests, docs, build)",
    );
    expect((await request(id))?.status).toBe("needs_attention");
  });
});
