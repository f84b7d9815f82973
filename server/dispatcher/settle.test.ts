import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { events, requestSpecs, requests, tasks } from "@/server/db/schema";
import { ForbiddenError, ValidationError } from "@/server/errors";
import { ANSWER_NOTE_MAX, answerRequest, MAX_ANSWERS } from "@/server/planner/answer";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/server/testing/fixtures";
import { advance } from "./advance";

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const file = (input: Record<string, unknown>, requester = world.admin) =>
  createRequests(world.db, {
    input: { repo: "demo", description: "", ...input },
    requester,
    config: world.config,
    source: "cli",
  })[0]?.id ?? 0;
const statusOf = (id: number) =>
  world.db.select({ s: requests.status }).from(requests).where(eq(requests.id, id)).get()?.s;
const failureReason = (id: number) =>
  world.db
    .select()
    .from(events)
    .all()
    .filter(
      (e) =>
        e.type === "request.status" &&
        e.entityId === id &&
        (e.payload as { status?: string }).status === "failed",
    )
    .map((e) => (e.payload as { reason?: string }).reason)[0];

describe("requests always end", () => {
  it("a task the developer cannot do fails its request, with the reason", async () => {
    const id = file({ title: "Bump the version", files: ["package.json"] });
    await advance(world.db, world.config, "d");
    expect(statusOf(id)).toBe("failed");
    expect(failureReason(id)).toMatch(
      /task 1\.1 failed: the built-in developer cannot edit package\.json/,
    );
  });

  it("a request whose dependency failed fails too, naming it", async () => {
    const first = file({ title: "Bump the version", files: ["package.json"] });
    const second = file({
      title: "Then document it",
      files: ["docs/guide.md"],
      dependsOn: [first],
    });
    await advance(world.db, world.config, "d");
    await advance(world.db, world.config, "d");
    expect(statusOf(first)).toBe("failed");
    expect(statusOf(second)).toBe("failed");
    expect(world.db.select().from(tasks).where(eq(tasks.id, "2.1")).get()?.blockedReason).toBe(
      `request #${first}, which this request depends on, failed; file it again once that is resolved`,
    );
  });

  it("one request that cannot be planned fails alone; the others are planned", async () => {
    const bad = file({ title: "Broken", files: ["docs/a.md"] });
    const good = file({ title: "Fine", files: ["docs/b.md"] });
    // A row that is no longer a valid request (say the limits changed since it was filed).
    world.db
      .update(requests)
      .set({ description: "x".repeat(30_000) })
      .where(eq(requests.id, bad))
      .run();
    await advance(world.db, world.config, "d");
    expect(statusOf(bad)).toBe("failed");
    expect(failureReason(bad)).toMatch(/description: must be at most 20000 characters/);
    expect(statusOf(good)).not.toBe("received");
    expect(statusOf(good)).not.toBe("failed");
  });
});

describe("answers", () => {
  const unclear = () => file({ title: "Make it better", description: "Improve things." });
  const descriptionOf = (id: number) =>
    world.db.select().from(requests).where(eq(requests.id, id)).get()?.description;

  it("are stored as answers: five long notes never grow the description", async () => {
    const id = unclear();
    await advance(world.db, world.config, "d");
    for (let i = 0; i < 5; i++) {
      expect(statusOf(id)).toBe("needs_clarification");
      await answerRequest(world.db, world.config, id, world.admin, {
        note: "n".repeat(ANSWER_NOTE_MAX),
      });
    }
    expect(descriptionOf(id)).toBe("Improve things.");
    const spec = world.db.select().from(requestSpecs).where(eq(requestSpecs.requestId, id)).get();
    expect(spec?.answers).toHaveLength(5);
  });

  it("a note can name the files, and planning reads it", async () => {
    const id = unclear();
    await advance(world.db, world.config, "d");
    const res = await answerRequest(world.db, world.config, id, world.admin, {
      note: "It is docs/guide.md that needs the work.",
    });
    expect(res.status).toBe("planned");
  });

  it("are refused past the limit, for unknown areas and for another requester", async () => {
    const requester = await world.userWith("requester");
    const stranger = await world.userWith("requester");
    const id = unclear();
    await advance(world.db, world.config, "d");
    await expect(
      answerRequest(world.db, world.config, id, stranger, { note: "mine now" }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    const err = await answerRequest(world.db, world.config, id, requester, {
      areas: ["docs", "kitchen"],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    const own = file({ title: "Make it nicer", description: "Improve." }, requester);
    await advance(world.db, world.config, "d");
    const unknown = await answerRequest(world.db, world.config, own, requester, {
      areas: ["docs", "kitchen"],
    }).catch((e) => e);
    expect(unknown).toBeInstanceOf(ValidationError);
    expect((unknown as ValidationError).issues).toEqual([
      { path: "areas[1]", message: expect.stringContaining("unknown area 'kitchen'") },
    ]);
    for (let i = 0; i < MAX_ANSWERS; i++)
      await answerRequest(world.db, world.config, own, requester, { note: `try ${i}` });
    const over = await answerRequest(world.db, world.config, own, requester, {
      note: "one more",
    }).catch((e) => e);
    expect(over).toBeInstanceOf(ValidationError);
    expect(String(over.message)).toContain(`the limit is ${MAX_ANSWERS}`);
    expect(statusOf(own)).toBe("needs_clarification");
  });
});
