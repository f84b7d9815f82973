import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { events, requestSpecs, requests, tasks } from "@/server/db/schema";
import { ConflictError, ForbiddenError, ValidationError } from "@/server/errors";
import { log } from "@/server/log";
import { planRequest } from "@/server/planning/plan";
import { ANSWER_NOTE_MAX, answerRequest, MAX_ANSWERS } from "@/server/requests/answer";
import { createRequests } from "@/server/requests/service";
import { moveTask } from "@/server/state/tasks/store";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { advance, settleRequests } from "./advance";

// The real planner, wrapped so that a test can make one call fail as a race or a hiccup would.
vi.mock("@/server/planning/plan", async (importOriginal) => {
  const actual = await importOriginal<typeof import("@/server/planning/plan")>();
  return { ...actual, planRequest: vi.fn(actual.planRequest) };
});
const { planRequest: realPlanRequest } =
  await vi.importActual<typeof import("@/server/planning/plan")>("@/server/planning/plan");

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

const file = async (input: Record<string, unknown>, requester = world.admin) =>
  (
    await createRequests(world.db, {
      input: { repo: "demo", description: "", ...input },
      requester,
      config: world.config,
      source: "cli",
    })
  )[0]?.id ?? 0;
const statusOf = async (id: number) =>
  (
    await world.db.select({ s: requests.status }).from(requests).where(eq(requests.id, id)).limit(1)
  )[0]?.s;
const failureReason = async (id: number) =>
  (await world.db.select().from(events))
    .filter(
      (e) =>
        e.type === "request.status" &&
        e.entityId === id &&
        (e.payload as { status?: string }).status === "failed",
    )
    .map((e) => (e.payload as { reason?: string }).reason)[0];

describe("requests always end", () => {
  it("a task the developer cannot do fails its request, with the reason", async () => {
    const id = await file({ title: "Bump the version", files: ["package.json"] });
    await advance(world.db, world.config, "d");
    expect(await statusOf(id)).toBe("failed");
    expect(await failureReason(id)).toMatch(
      /task 1\.1 failed: the built-in developer cannot edit package\.json/,
    );
  });

  it("a request whose dependency failed fails too, naming it", async () => {
    const first = await file({ title: "Bump the version", files: ["package.json"] });
    const second = await file({
      title: "Then document it",
      files: ["docs/guide.md"],
      dependsOn: [first],
    });
    await advance(world.db, world.config, "d");
    await advance(world.db, world.config, "d");
    expect(await statusOf(first)).toBe("failed");
    expect(await statusOf(second)).toBe("failed");
    expect(
      (await world.db.select().from(tasks).where(eq(tasks.id, "2.1")).limit(1))[0]?.blockedReason,
    ).toBe(
      `request #${first}, which this request depends on, failed; file it again once that is resolved`,
    );
  });

  it("one request that cannot be planned fails alone; the others are planned", async () => {
    const bad = await file({ title: "Broken", files: ["docs/a.md"] });
    const good = await file({ title: "Fine", files: ["docs/b.md"] });
    // A row that is no longer a valid request (say the limits changed since it was filed).
    await world.db
      .update(requests)
      .set({ description: "x".repeat(30_000) })
      .where(eq(requests.id, bad));
    await advance(world.db, world.config, "d");
    expect(await statusOf(bad)).toBe("failed");
    expect(await failureReason(bad)).toMatch(/description: must be at most 20000 characters/);
    expect(await statusOf(good)).not.toBe("received");
    expect(await statusOf(good)).not.toBe("failed");
  });
});

describe("settling", () => {
  const failTask = async (id: string) =>
    moveTask(world.db, {
      id,
      from: "pending",
      to: "failed",
      set: { blockedReason: "it broke" },
      event: { reason: "it broke" },
    });

  it("fails a whole chain of requests (A ← B ← C) in one call", async () => {
    const a = await file({ title: "First", files: ["docs/a.md"] });
    const b = await file({ title: "Second", files: ["docs/b.md"], dependsOn: [a] });
    const c = await file({ title: "Third", files: ["docs/c.md"], dependsOn: [b] });
    for (const id of [a, b, c]) await realPlanRequest(world.db, world.config, id);
    expect(await Promise.all([a, b, c].map(statusOf))).toEqual(["planned", "planned", "planned"]);
    await failTask(`${a}.1`);
    await settleRequests(world.db);
    expect(await Promise.all([a, b, c].map(statusOf))).toEqual(["failed", "failed", "failed"]);
    expect(
      (
        await world.db
          .select()
          .from(tasks)
          .where(eq(tasks.id, `${c}.1`))
          .limit(1)
      )[0]?.blockedReason,
    ).toBe(
      `request #${b}, which this request depends on, failed; file it again once that is resolved`,
    );
  });

  it("fails a whole chain of tasks (1.1 ← 1.2 ← 1.3) in one call", async () => {
    const id = await file({ title: "Three steps", files: ["docs/a.md"] });
    await realPlanRequest(world.db, world.config, id);
    const [first] = await world.db
      .select()
      .from(tasks)
      .where(eq(tasks.id, `${id}.1`))
      .limit(1);
    if (!first) throw new Error("no task planned");
    const now = Date.now();
    for (const n of [2, 3])
      await world.db
        .insert(tasks)
        .values({ ...first, id: `${id}.${n}`, dependsOn: [`${id}.${n - 1}`], createdAt: now + n });
    await failTask(`${id}.1`);
    await settleRequests(world.db);
    const states = await world.db
      .select({ id: tasks.id, state: tasks.state, reason: tasks.blockedReason })
      .from(tasks)
      .where(eq(tasks.requestId, id))
      .orderBy(tasks.id);
    expect(states).toEqual([
      { id: `${id}.1`, state: "failed", reason: "it broke" },
      {
        id: `${id}.2`,
        state: "failed",
        reason: `task ${id}.1, which this task depends on, failed`,
      },
      {
        id: `${id}.3`,
        state: "failed",
        reason: `task ${id}.2, which this task depends on, failed`,
      },
    ]);
    expect(await statusOf(id)).toBe("failed");
  });

  it("a request cancelled while its pass runs is left alone and the pass goes on", async () => {
    const done = await file({ title: "First", files: ["docs/a.md"] });
    const other = await file({ title: "Second", files: ["docs/b.md"] });
    for (const id of [done, other]) await realPlanRequest(world.db, world.config, id);
    await world.db.update(tasks).set({ state: "done" });
    // The cancel lands after the pass read the request as planned, before it moves it to done.
    const transaction = world.db.transaction.bind(world.db);
    vi.spyOn(world.db, "transaction").mockImplementationOnce(async (fn) => {
      await world.db.update(requests).set({ status: "cancelled" }).where(eq(requests.id, done));
      return transaction(fn);
    });
    await expect(settleRequests(world.db)).resolves.not.toThrow();
    expect(await statusOf(done)).toBe("cancelled");
    expect(await statusOf(other)).toBe("done");
  });

  it("a planning error that may not repeat leaves the request received for the next pass", async () => {
    const id = await file({ title: "Fine", files: ["docs/b.md"] });
    vi.mocked(planRequest).mockRejectedValueOnce(new Error("database is locked"));
    const warn = vi.spyOn(log, "warn").mockImplementation(() => {});
    await advance(world.db, world.config, "d");
    expect(warn).toHaveBeenCalledOnce();
    warn.mockRestore();
    expect(await statusOf(id)).toBe("received");
    expect(await failureReason(id)).toBeUndefined();
    await advance(world.db, world.config, "d");
    expect(await statusOf(id)).not.toBe("received");
    expect(await statusOf(id)).not.toBe("failed");
  });
});

describe("answers", () => {
  const unclear = async () => file({ title: "Make it better", description: "Improve things." });
  const descriptionOf = async (id: number) =>
    (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.description;

  it("are stored as answers: five long notes never grow the description", async () => {
    const id = await unclear();
    await advance(world.db, world.config, "d");
    for (let i = 0; i < 5; i++) {
      // The same question after an answer hands the request to a reviewer, who may answer on.
      expect(await statusOf(id)).toBe(i === 0 ? "needs_clarification" : "needs_attention");
      await answerRequest(world.db, world.config, id, world.admin, {
        note: "n".repeat(ANSWER_NOTE_MAX),
      });
    }
    expect(await descriptionOf(id)).toBe("Improve things.");
    const [spec] = await world.db
      .select()
      .from(requestSpecs)
      .where(eq(requestSpecs.requestId, id))
      .limit(1);
    expect(spec?.answers).toHaveLength(5);
  });

  it("a note can name the files, and planning reads it", async () => {
    const id = await unclear();
    await advance(world.db, world.config, "d");
    const res = await answerRequest(world.db, world.config, id, world.admin, {
      note: "It is docs/guide.md that needs the work.",
    });
    expect(res.status).toBe("planned");
  });

  it("that lose the race to plan to the worker report the request's status, not a conflict", async () => {
    const id = await unclear();
    await advance(world.db, world.config, "d");
    vi.mocked(planRequest).mockImplementationOnce(async (db, config, requestId) => {
      await realPlanRequest(db, config, requestId); // the worker plans it first
      throw new ConflictError(`request ${requestId} is no longer received; reload and try again`);
    });
    const res = await answerRequest(world.db, world.config, id, world.admin, {
      note: "It is docs/guide.md that needs the work.",
    });
    expect(res).toEqual({ status: "planned", tasks: [], questions: [] });
    expect(await statusOf(id)).toBe("planned");
  });

  it("refuse a note with control characters other than tabs and line breaks", async () => {
    const id = await unclear();
    await advance(world.db, world.config, "d");
    const err = await answerRequest(world.db, world.config, id, world.admin, {
      note: "docs/guide.md\u001b[2J",
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).issues).toEqual([
      {
        path: "note",
        message: "must not contain control characters other than tabs and line breaks",
      },
    ]);
    const ok = await answerRequest(world.db, world.config, id, world.admin, {
      note: "It is\tdocs/guide.md\r\nthat needs the work.",
    });
    expect(ok.status).toBe("planned");
  });

  it("are refused past the limit, for unknown areas and for another requester", async () => {
    const requester = await world.userWith("requester");
    const stranger = await world.userWith("requester");
    const id = await unclear();
    await advance(world.db, world.config, "d");
    await expect(
      answerRequest(world.db, world.config, id, stranger, { note: "mine now" }),
    ).rejects.toBeInstanceOf(ForbiddenError);
    const err = await answerRequest(world.db, world.config, id, requester, {
      areas: ["docs", "kitchen"],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(ForbiddenError);
    const own = await file({ title: "Make it nicer", description: "Improve." }, requester);
    await advance(world.db, world.config, "d");
    const unknown = await answerRequest(world.db, world.config, own, requester, {
      areas: ["docs", "kitchen"],
    }).catch((e) => e);
    expect(unknown).toBeInstanceOf(ValidationError);
    expect((unknown as ValidationError).issues).toEqual([
      { path: "areas[1]", message: expect.stringContaining("unknown area 'kitchen'") },
    ]);
    // After the requester's first answer the same question comes back: a reviewer answers on.
    for (let i = 0; i < MAX_ANSWERS; i++)
      await answerRequest(world.db, world.config, own, i === 0 ? requester : world.admin, {
        note: `try ${i}`,
      });
    const over = await answerRequest(world.db, world.config, own, world.admin, {
      note: "one more",
    }).catch((e) => e);
    expect(over).toBeInstanceOf(ValidationError);
    expect(String(over.message)).toContain(`the limit is ${MAX_ANSWERS}`);
    expect(await statusOf(own)).toBe("needs_attention");
  });
});
