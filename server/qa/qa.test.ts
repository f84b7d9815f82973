import fs from "node:fs";
import path from "node:path";
import { count, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AlertRule } from "@/schemas/alerts";
import { Policy } from "@/schemas/policy";
import type { TaskRequest } from "@/schemas/task-request";
import { firings } from "@/server/alerts/conditions";
import { events, qaDecisions, queueEntries, tasks } from "@/server/db/schema";
import { createDemoRepo } from "@/server/demo/create";
import { demoPolicy } from "@/server/demo/policy";
import { advance } from "@/server/dispatch/advance";
import { ConflictError, ValidationError } from "@/server/errors";
import { git } from "@/server/git/run";
import { escalateQaWaits } from "@/server/queue/qa-gate";
import { createRequests } from "@/server/requests/service";
import { buildPrompt } from "@/server/runs/prompt";
import { getEntry } from "@/server/state/queue/store";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import type { User } from "@/server/users/service";
import { metaQueue } from "@/server/views/meta";
import { qaQueue } from "@/server/views/qa";
import { makeWorld, NO_APPROVALS, type TestWorld, tempDir } from "@/test-support/fixtures";
import { drainQueue } from "@/test-support/queue-world";
import { checkoutQa, failQa, passQa, prioritizeQa } from "./service";

// The QA gate through the whole path: requests filed, planned and developed by the built-in
// developer, their changes queued; those of a kind the policy's `qa.kinds` lists (feature and
// bugfix by default) wait in qa_required after their checks pass, until a person passes them
// or fails them with notes.

let world: TestWorld;
let operator: User;
beforeEach(async () => {
  world = await makeWorld({ qa: true });
  operator = await world.userWith("operator");
});
afterEach(() => world.cleanup());

/** Files a request for one file in `repo`, develops it and drains the queue. */
async function fileAndDrain(
  file: string,
  kind: NonNullable<TaskRequest["kind"]>,
  opts: { repo?: string; priority?: TaskRequest["priority"] } = {},
) {
  const [r] = await createRequests(world.db, {
    input: {
      title: `Change ${file}`,
      description: "",
      repo: opts.repo ?? "demo",
      files: [file],
      kind,
      priority: opts.priority ?? "normal",
    },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  if (!r) throw new Error("no request");
  await advance(world.db, world.config, "d");
  await drainQueue(world);
  const [task] = await world.db.select().from(tasks).where(eq(tasks.requestId, r.id)).limit(1);
  const [entry] = await world.db
    .select()
    .from(queueEntries)
    .where(eq(queueEntries.changeRequestId, task?.changeRequestId ?? 0))
    .limit(1);
  if (!task || !entry) throw new Error("no change queued");
  return { requestId: r.id, task, entry };
}

const stateOf = async (entryId: number) => (await getEntry(world.db, entryId))?.state;
const decisions = async () =>
  (await world.db.select({ n: count() }).from(qaDecisions).limit(1))[0]?.n ?? 0;

/** A second repository, `api`, a copy of the demo with the same policy. */
async function addApiRepo() {
  const demo = world.config.repositories[0];
  if (!demo) throw new Error("no demo repository");
  const dir = path.join(world.dir, "repos", "api");
  await createDemoRepo(dir);
  world.config = {
    ...world.config,
    repositories: [...world.config.repositories, { ...demo, name: "api", path: dir }],
  };
}

/** The demo's policy (QA on, no approval tiers) with these keys changed, in every repository. */
function setPolicy(extra: Record<string, unknown>) {
  const policy = Policy.parse({ ...demoPolicy, approvals: NO_APPROVALS, ...extra });
  world.config = {
    ...world.config,
    repositories: world.config.repositories.map((r) => ({ ...r, policy })),
  };
}

/** The demo's policy names an agent, so a failed task goes back to it (not the built-in one). */
function givePolicyAgent() {
  setPolicy({ agents: { ...demoPolicy.agents, default: "command", command: "true" } });
}

describe("the QA gate", () => {
  it("a feature waits for QA while a docs change in the same repository lands; a pass lands it", async () => {
    const feature = await fileAndDrain("src/cart/cart.js", "feature");
    expect(await stateOf(feature.entry.id)).toBe("qa_required");
    const docs = await fileAndDrain("docs/guide.md", "docs");
    expect(await stateOf(docs.entry.id)).toBe("merged");
    expect(await stateOf(feature.entry.id)).toBe("qa_required");

    // The candidate, as the queue would land it: the feature's change on the tip with the docs.
    const dir = path.join(tempDir(), "qa");
    const out = await checkoutQa(world.db, world.config, { requestId: feature.requestId, dir });
    expect(out.entries).toEqual([feature.entry.id]);
    const repo = world.config.repositories[0]?.path ?? "";
    for (const f of ["src/cart/cart.js", "docs/guide.md"]) {
      const shown = await git(["show", `${out.commit}:${f}`], { cwd: repo });
      expect(fs.readFileSync(path.join(dir, f), "utf8")).toBe(shown);
    }
    expect(fs.existsSync(path.join(dir, ".git"))).toBe(false);
    // A folder that is not empty is refused, and nothing is written into it.
    await expect(
      checkoutQa(world.db, world.config, { requestId: feature.requestId, dir }),
    ).rejects.toThrow(/dir: .* is not an empty folder/);

    await passQa(world.db, { requestId: feature.requestId }, operator);
    expect(await stateOf(feature.entry.id)).toBe("queued");
    await drainQueue(world);
    expect(await stateOf(feature.entry.id)).toBe("merged");
    // Nothing waits any more: a second pass is refused.
    await expect(passQa(world.db, { requestId: feature.requestId }, operator)).rejects.toThrow(
      ConflictError,
    );
  });

  it("through the speculative pipeline too: the feature waits, the docs change lands, a pass lands it", async () => {
    setPolicy({ queue: { pipeline: { window: 4, batch: { max: 2 } } } });
    const feature = await fileAndDrain("src/cart/cart.js", "feature");
    const docs = await fileAndDrain("docs/guide.md", "docs");
    expect(await stateOf(feature.entry.id)).toBe("qa_required");
    expect(await stateOf(docs.entry.id)).toBe("merged");
    await passQa(world.db, { requestId: feature.requestId }, operator);
    await drainQueue(world);
    expect(await stateOf(feature.entry.id)).toBe("merged");
  });

  it("a kind the policy does not list lands without QA", async () => {
    setPolicy({ qa: { kinds: ["bugfix"] } });
    const feature = await fileAndDrain("src/cart/cart.js", "feature");
    expect(await stateOf(feature.entry.id)).toBe("merged");
  });

  it("a fail rejects the change and sends the notes to the agent's next prompt", async () => {
    const feature = await fileAndDrain("src/cart/cart.js", "bugfix");
    expect(await stateOf(feature.entry.id)).toBe("qa_required");
    // An agent to send it back to: the built-in developer that made it cannot act on notes.
    givePolicyAgent();
    const res = await failQa(
      world.db,
      world.config,
      { requestId: feature.requestId, notes: "Adding the same item twice\nshows it twice" },
      operator,
    );
    expect(res.reopened).toEqual([feature.task.id]);
    expect(await getEntry(world.db, feature.entry.id)).toMatchObject({
      state: "rejected",
      lastError: { kind: "qa_failed" },
    });
    const [task] = await world.db
      .select()
      .from(tasks)
      .where(eq(tasks.id, feature.task.id))
      .limit(1);
    expect(task?.state).toBe("pending");
    if (!task) throw new Error("task");
    const prompt = await buildPrompt(world.db, task, { base: "abc", checks: [], context: [] });
    expect(prompt.text).toContain("## Manual QA failed an earlier change for this task");
    expect(prompt.text).toContain("- Adding the same item twice\nshows it twice");
  });

  it("orders QA across two repositories by priority then age, with an operator's override", async () => {
    await addApiRepo();
    const a = await fileAndDrain("src/cart/cart.js", "feature", { repo: "demo" });
    const b = await fileAndDrain("src/cart/cart.js", "feature", { repo: "api" });
    const c = await fileAndDrain("src/pricing/pricing.js", "bugfix", { repo: "demo" });
    const d = await fileAndDrain("src/pricing/pricing.js", "feature", {
      repo: "api",
      priority: "high",
    });
    for (const x of [a, b, c, d]) expect(await stateOf(x.entry.id)).toBe("qa_required");

    let queue = await qaQueue(world.db, world.config);
    // High first, then the longest waiting.
    expect(queue.order.map((i) => i.requestId)).toEqual([
      d.requestId,
      a.requestId,
      b.requestId,
      c.requestId,
    ]);
    expect(queue.next?.requestId).toBe(d.requestId);
    // Each repository's micro queue holds its own waiting items, several per repository.
    expect(queue.repos.map((r) => [r.repo, r.items.map((i) => i.requestId)])).toEqual([
      ["api", [d.requestId, b.requestId]],
      ["demo", [a.requestId, c.requestId]],
    ]);

    // The operator moves c ahead of everything; then d is passed and c is next.
    await prioritizeQa(world.db, { requestId: c.requestId, priority: "high" }, operator);
    queue = await qaQueue(world.db, world.config);
    expect(queue.order.map((i) => i.requestId)).toEqual([
      c.requestId,
      d.requestId,
      a.requestId,
      b.requestId,
    ]);
    expect(queue.order[0]).toMatchObject({ overridden: true, requestPriority: "normal" });
    await passQa(world.db, { requestId: c.requestId }, operator);
    queue = await qaQueue(world.db, world.config);
    expect(queue.next?.requestId).toBe(d.requestId);
    // Prioritizing a request with nothing waiting, or an unknown one, is refused.
    await expect(
      prioritizeQa(world.db, { requestId: c.requestId, priority: "low" }, operator),
    ).rejects.toThrow(/no change waiting for QA/);
    await expect(
      prioritizeQa(world.db, { requestId: 9999, priority: "low" }, operator),
    ).rejects.toThrow(/no request R9999/);
  });

  it("escalates a QA wait past the policy's limit to the operators, once", async () => {
    const feature = await fileAndDrain("src/cart/cart.js", "feature");
    const since = (await getEntry(world.db, feature.entry.id))?.updatedAt ?? 0;
    const limit = world.config.repositories[0]?.policy?.qa.escalateAfterMinutes ?? 0;
    expect(limit).toBe(240);
    // Not yet: exactly at the limit.
    expect(await escalateQaWaits(world.db, world.config, since + limit * 60_000)).toEqual([]);
    expect(
      (await qaQueue(world.db, world.config, since + limit * 60_000)).order[0]?.escalated,
    ).toBe(false);
    // A minute past it: escalated, with an event; a second scan does nothing more.
    const later = since + (limit + 1) * 60_000;
    expect(await escalateQaWaits(world.db, world.config, later)).toEqual([feature.entry.id]);
    expect(await escalateQaWaits(world.db, world.config, later + 60_000)).toEqual([]);
    const escalations = await world.db.select().from(events).where(eq(events.type, "qa.escalated"));
    expect(escalations).toHaveLength(1);
    expect(escalations[0]).toMatchObject({
      topic: "queue",
      entityId: feature.entry.id,
      payload: { entry: feature.entry.id, repo: "demo", minutes: limit + 1, limitMinutes: limit },
    });
    const queue = await qaQueue(world.db, world.config, later);
    expect(queue.order[0]).toMatchObject({ escalated: true, waitingMinutes: limit + 1 });
    // The alert rule of kind qa_waiting fires for it.
    const fired = await firings(world.db, AlertRule.parse({ kind: "qa_waiting" }), { now: later });
    expect(fired).toEqual([
      expect.objectContaining({ subjectType: "entry", subjectId: String(feature.entry.id) }),
    ]);
    // Operators see it in the workspace meta queue too, once, applied.
    expect((await metaQueue(world.db)).items).toEqual([
      expect.objectContaining({
        kind: "qa_escalation",
        state: "applied",
        repo: "demo",
        requestId: feature.requestId,
        by: "system",
        sourceEventId: `qa.escalated:Q${feature.entry.id}:${since}`,
        effect: `escalated to the operators: R${feature.requestId}'s change Q${feature.entry.id} has waited ${limit + 1} min for manual QA in demo; the limit is ${limit} min (see /qa)`,
      }),
    ]);
  });

  it("refuses bad notes, naming the field and the character's position, and writes nothing", async () => {
    const feature = await fileAndDrain("src/cart/cart.js", "feature");
    const fail = (notes: string) =>
      failQa(world.db, world.config, { requestId: feature.requestId, notes }, operator);
    await expect(fail("bad\u0007bell")).rejects.toThrow(ValidationError);
    await expect(fail("bad\u0007bell")).rejects.toThrow(
      /notes: contains a control character \(U\+0007\) at position 4/,
    );
    await expect(fail("esc \u001b[31m")).rejects.toThrow(/U\+001B\) at position 5/);
    await expect(fail("c1 \u009b")).rejects.toThrow(/U\+009B\) at position 4/);
    await expect(fail("x".repeat(4001))).rejects.toThrow(
      /notes: is 4001 characters long; at most 4000/,
    );
    await expect(fail("   ")).rejects.toThrow(/notes: say what failed/);
    expect(await decisions()).toBe(0);
    expect(await stateOf(feature.entry.id)).toBe("qa_required");

    // Through the API: a 400 naming the field; a requester may not decide at all.
    const call = (user: User) =>
      createCallerFactory(appRouter)({
        db: world.db,
        env: world.env,
        user,
        crossOrigin: false,
        via: "session",
      });
    await expect(
      call(operator).qa.fail({ requestId: feature.requestId, notes: "tab\tok but \u0000 not" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await expect(
      call(await world.userWith("requester")).qa.pass({ requestId: feature.requestId }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    expect(await decisions()).toBe(0);
    expect(await stateOf(feature.entry.id)).toBe("qa_required");
  });
});
