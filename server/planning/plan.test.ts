import { and, asc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, tasks } from "@/server/db/schema";
import { ForbiddenError } from "@/server/errors";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { answerRequest } from "../requests/answer";
import { planRequest } from "./plan";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

/** A request's `request.status` events' payloads, oldest first. */
const statusEvents = async (id: number) =>
  (
    await world.db
      .select({ payload: events.payload })
      .from(events)
      .where(and(eq(events.entityId, id), eq(events.type, "request.status")))
      .orderBy(asc(events.id))
  ).map((e) => e.payload);

describe("planning the same request twice at once", () => {
  it("plans it once; the other planner moves on quietly, writing nothing", async () => {
    const [r] = await createRequests(world.db, {
      input: { title: "Explain caps", description: "", repo: "demo", files: ["docs/guide.md"] },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    const id = r?.id ?? 0;
    // Both read 'received' and do their slow work before either commits.
    const [a, b] = await Promise.all([
      planRequest(world.db, world.config, id),
      planRequest(world.db, world.config, id),
    ]);
    expect([a.status, b.status]).toEqual(["planned", "planned"]);
    expect([a.tasks.length, b.tasks.length].sort()).toEqual([0, 1]);
    expect(await world.db.select().from(tasks).where(eq(tasks.requestId, id))).toHaveLength(1);
    expect(
      (await statusEvents(id)).filter((p) => (p as { status?: string }).status === "planned"),
    ).toHaveLength(1);
  });
});

describe("clarification that ends", () => {
  it("a question that comes back after an answer goes to a reviewer, who re-scopes it", async () => {
    const requester = await world.userWith("requester");
    const reviewer = await world.userWith("reviewer");
    const [r] = await createRequests(world.db, {
      input: {
        title: "Document the cart",
        description: "Explain how src/cart/cart.js merges lines.",
        repo: "demo",
        kind: "docs",
      },
      requester,
      config: world.config,
      source: "cli",
    });
    const id = r?.id ?? 0;
    const first = await planRequest(world.db, world.config, id);
    expect(first.status).toBe("needs_clarification");
    expect(first.questions[0]).toMatch(/kind is docs but it names code files/);

    await expect(answerRequest(world.db, world.config, id, requester, {})).rejects.toThrow(
      "an answer must give files, areas, a kind or a note",
    );
    const again = await answerRequest(world.db, world.config, id, requester, { kind: "docs" });
    expect(again.status).toBe("needs_attention");
    const reason = ((await statusEvents(id)).at(-1) as { reason?: string } | undefined)?.reason;
    expect(reason).toMatch(/same question came back/);

    await expect(
      answerRequest(world.db, world.config, id, requester, { note: "please" }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    const rescoped = await answerRequest(world.db, world.config, id, reviewer, {
      kind: "feature",
    });
    expect(rescoped.status).toBe("planned");
  });
});
