import fs from "node:fs";
import { count, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "@/server/config/load";
import { approvals, changeQueueLogs, changeRequests, requests, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { ConflictError, ForbiddenError, ValidationError } from "@/server/errors";
import { git } from "@/server/git/run";
import { patchHash } from "@/server/queue/approval-gate";
import { buildPrompt } from "@/server/runs/prompt";
import { getEntry } from "@/server/state/queue/store";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import type { User } from "@/server/users/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { drainQueue, fileAndQueue as queueOne } from "@/test-support/queue-world";
import { listWaiting } from "../views/waiting";
import { approveEntry, openDiff, type RejectInput, rejectEntry } from "./service";

// The demo's policy with the seed's tiers (low lands by itself, medium waits for one approval,
// high for one from a reviewer who opened the diff and commented), through the whole path:
// filed by a requester, planned, developed by the built-in developer, queued and gated.

let world: TestWorld;
let requester: User;
let reviewer: User;
let operator: User;
beforeEach(async () => {
  world = await makeWorld({ gates: true });
  requester = await world.userWith("requester");
  reviewer = await world.userWith("reviewer");
  operator = await world.userWith("operator");
});
afterEach(() => world.cleanup());

const repoPath = () => world.config.repositories[0]?.path ?? "";

const drain = () => drainQueue(world);

/** Files a request for one file, develops it and runs the queue; returns its entry. */
async function fileAndQueue(file: string, by: User = requester) {
  const { requestId, task, entry } = await queueOne(world, {
    file,
    title: `Touch ${file}`,
    requester: by,
  });
  if (!entry || !task) throw new Error("no entry");
  return { requestId, task, entry };
}

/**
 * The demo's policy names the command agent (a command line), so a task can be handed to it:
 * in the config file, which the routers read, and in the world's loaded copy.
 */
function givePolicyAgent() {
  const raw = JSON.parse(fs.readFileSync(world.env.configPath, "utf8"));
  for (const r of raw.repositories)
    r.policy = { ...r.policy, agents: { ...r.policy?.agents, command: "node tools/agent.mjs" } };
  fs.writeFileSync(world.env.configPath, `${JSON.stringify(raw, null, 2)}\n`);
  world.config = loadConfig(world.env.configPath);
}

const hashOf = async (entryId: number) => (await openDiff(world.db, entryId, operator)).patchHash;
const decisions = async () =>
  (await world.db.select({ n: count() }).from(approvals).limit(1))[0]?.n ?? 0;

describe("approval gates by risk", () => {
  it("low lands by itself; medium waits for a reviewer, then lands", async () => {
    const low = await fileAndQueue("docs/guide.md");
    expect((await getEntry(world.db, low.entry.id))?.state).toBe("merged");

    const medium = await fileAndQueue("src/cart/cart.js");
    expect((await getEntry(world.db, medium.entry.id))?.state).toBe("awaiting_approval");
    const waiting = await listWaiting(world.db, world.config, reviewer);
    expect(waiting).toHaveLength(1);
    expect(waiting[0]).toMatchObject({
      entryId: medium.entry.id,
      change: { risk: "medium" },
      request: { id: medium.requestId },
      tier: { approvals: 1, requireDiff: false },
      mayApprove: true,
    });
    const res = await approveEntry(
      world.db,
      world.config,
      { entryId: medium.entry.id, patchHash: waiting[0]?.change.patchHash ?? "" },
      reviewer,
    );
    expect(res).toMatchObject({ approvals: 1, needed: 1, queued: true });
    await drain();
    expect((await getEntry(world.db, medium.entry.id))?.state).toBe("merged");
    // The tip had not moved since its checks passed: they are not run again.
    const moves = (
      await world.db
        .select({ event: changeQueueLogs.event })
        .from(changeQueueLogs)
        .where(eq(changeQueueLogs.entryId, medium.entry.id))
    ).map((l) => l.event.to);
    expect(moves.filter((m) => m === "checking")).toHaveLength(1);
    expect(moves).toEqual(expect.arrayContaining(["awaiting_approval", "queued", "merged"]));
  });

  it("an approved entry whose tip moved runs its checks again before it lands", async () => {
    const medium = await fileAndQueue("src/cart/cart.js");
    const hash = await hashOf(medium.entry.id);
    await fileAndQueue("docs/guide.md"); // lands, moving the tip
    await approveEntry(
      world.db,
      world.config,
      { entryId: medium.entry.id, patchHash: hash },
      reviewer,
    );
    await drain();
    expect((await getEntry(world.db, medium.entry.id))?.state).toBe("merged");
    const checks = (
      await world.db
        .select({ event: changeQueueLogs.event })
        .from(changeQueueLogs)
        .where(eq(changeQueueLogs.entryId, medium.entry.id))
    ).filter((l) => l.event.to === "checking");
    expect(checks).toHaveLength(2);
  });

  it("high needs the whole diff opened by the approver and a comment", async () => {
    const high = await fileAndQueue("src/pricing/pricing.js");
    expect((await getEntry(world.db, high.entry.id))?.state).toBe("awaiting_approval");
    const [change] = await world.db
      .select({ patch: changeRequests.patch })
      .from(changeRequests)
      .where(eq(changeRequests.id, high.entry.changeRequestId))
      .limit(1);
    const hash = patchHash(change?.patch ?? "");
    const approve = async (comment?: string) =>
      approveEntry(
        world.db,
        world.config,
        { entryId: high.entry.id, patchHash: hash, comment },
        reviewer,
      );
    await expect(approve("looks right")).rejects.toThrow(/open its whole diff before approving/);
    // Another user's view does not count for this reviewer.
    await openDiff(world.db, high.entry.id, operator);
    await expect(approve("looks right")).rejects.toThrow(ConflictError);
    await openDiff(world.db, high.entry.id, reviewer);
    await expect(approve()).rejects.toThrow(ValidationError);
    await expect(approve("   ")).rejects.toThrow(/comment: a high-risk approval needs a comment/);
    expect(await decisions()).toBe(0);
    expect(await approve("Cap logic reviewed; tests cover it")).toMatchObject({ queued: true });
    await drain();
    expect((await getEntry(world.db, high.entry.id))?.state).toBe("merged");
    const log = await git(["log", "-1", "--format=%B", "main"], { cwd: repoPath() });
    expect(log).toContain(`Hyperion-Task: ${high.task.id}`);
  });

  it("a policy may require two approvals for high", async () => {
    const repo = world.config.repositories[0];
    if (!repo?.policy) throw new Error("policy");
    repo.policy.approvals.high = { approvals: 2, requireDiff: true, requireComment: true };
    const high = await fileAndQueue("src/pricing/pricing.js");
    for (const who of [reviewer, operator]) {
      const { patchHash: hash } = await openDiff(world.db, high.entry.id, who);
      await approveEntry(
        world.db,
        world.config,
        { entryId: high.entry.id, patchHash: hash, comment: `ok by ${who.email}` },
        who,
      );
      expect((await getEntry(world.db, high.entry.id))?.state).toBe(
        who === reviewer ? "awaiting_approval" : "queued",
      );
    }
  });
});

describe("who may approve, and what is refused with nothing written", () => {
  it("nobody approves a change of a request they filed (an agent's change counts as its requester's)", async () => {
    const medium = await fileAndQueue("src/cart/cart.js", reviewer);
    const hash = await hashOf(medium.entry.id);
    await expect(
      (async () =>
        approveEntry(
          world.db,
          world.config,
          { entryId: medium.entry.id, patchHash: hash },
          reviewer,
        ))(),
    ).rejects.toThrow(ForbiddenError);
    expect((await listWaiting(world.db, world.config, reviewer))[0]).toMatchObject({
      mayApprove: false,
      whyNot: expect.stringMatching(/you filed R\d+/),
    });
    expect(await decisions()).toBe(0);
  });

  it("a requester cannot approve at all: FORBIDDEN; without a session: UNAUTHORIZED", async () => {
    const medium = await fileAndQueue("src/cart/cart.js");
    const hash = await hashOf(medium.entry.id);
    const call = createCallerFactory(appRouter);
    const ctx = (user: User | null) => ({ db: world.db, env: world.env, user, origin: null });
    const input = { entryId: medium.entry.id, patchHash: hash };
    await expect(call(ctx(requester) as never).approval.approve(input)).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(call(ctx(null) as never).approval.approve(input)).rejects.toMatchObject({
      code: "UNAUTHORIZED",
    });
    await expect(call(ctx(requester) as never).approval.list()).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    expect(await call(ctx(reviewer) as never).approval.count()).toEqual({ waiting: 1 });
    expect(await decisions()).toBe(0);
  });

  it("refuses an entry that is not waiting, a second approval, a replaced patch", async () => {
    const low = await fileAndQueue("docs/guide.md");
    const medium = await fileAndQueue("src/cart/cart.js");
    const hash = await hashOf(medium.entry.id);
    await expect(
      (async () =>
        approveEntry(
          world.db,
          world.config,
          { entryId: low.entry.id, patchHash: await hashOf(low.entry.id) },
          reviewer,
        ))(),
    ).rejects.toThrow(/is merged, not waiting for approval/);
    await expect(
      (async () =>
        approveEntry(
          world.db,
          world.config,
          { entryId: medium.entry.id, patchHash: "0".repeat(64) },
          reviewer,
        ))(),
    ).rejects.toThrow(/is not Q\d+'s now/);
    expect(await decisions()).toBe(0);
    const repo = world.config.repositories[0];
    if (!repo?.policy) throw new Error("policy");
    repo.policy.approvals.medium = { approvals: 2, requireDiff: false, requireComment: false };
    await approveEntry(
      world.db,
      world.config,
      { entryId: medium.entry.id, patchHash: hash },
      reviewer,
    );
    await expect(
      (async () =>
        approveEntry(
          world.db,
          world.config,
          { entryId: medium.entry.id, patchHash: hash },
          reviewer,
        ))(),
    ).rejects.toThrow(/already approved/);
    expect(await decisions()).toBe(1);
  });

  it("a new patch for the same task voids the earlier approval, and says why", async () => {
    const repo = world.config.repositories[0];
    if (!repo?.policy) throw new Error("policy");
    repo.policy.approvals.medium = { approvals: 2, requireDiff: false, requireComment: false };
    const medium = await fileAndQueue("src/cart/cart.js");
    const hash = await hashOf(medium.entry.id);
    await approveEntry(
      world.db,
      world.config,
      { entryId: medium.entry.id, patchHash: hash },
      reviewer,
    );
    // The task's work is rejected and sent back: its next run makes a new patch. (The built-in
    // developer's change may go back only where the policy gives the area to an agent: it does
    // while the reviewer decides, and no longer when the task is dispatched again.)
    repo.policy.agents.byArea = { cart: "command" };
    await rejectEntry(
      world.db,
      world.config,
      { entryId: medium.entry.id, reason: "Round to cents", next: "redispatch" },
      operator,
    );
    repo.policy.agents.byArea = {};
    await advance(world.db, world.config, "d");
    await drain();
    const rows = await world.db.select().from(approvals);
    const first = rows.find((a) => a.decision === "approved");
    expect(first?.voidedReason).toMatch(/a new patch \(change #\d+\) replaced the one approved/);
    const waiting = await listWaiting(world.db, world.config, reviewer);
    expect(waiting).toHaveLength(1);
    expect(waiting[0]?.voided).toEqual([
      expect.objectContaining({ reviewer: reviewer.email, voidedReason: first?.voidedReason }),
    ]);
  });

  it("rejecting needs a reason; a rejected task goes back with the reason in its prompt", async () => {
    const medium = await fileAndQueue("src/cart/cart.js");
    // An agent to send it back to: the built-in developer that made it cannot act on a reason.
    givePolicyAgent();
    await expect(
      (async () =>
        rejectEntry(
          world.db,
          world.config,
          { entryId: medium.entry.id, reason: "  ", next: "redispatch" },
          reviewer,
        ))(),
    ).rejects.toThrow(/reason: say why it is rejected/);
    expect(await decisions()).toBe(0);
    expect((await getEntry(world.db, medium.entry.id))?.state).toBe("awaiting_approval");

    await rejectEntry(
      world.db,
      world.config,
      {
        entryId: medium.entry.id,
        reason: "Totals must round to whole cents",
        next: "redispatch",
        agent: "command",
      },
      reviewer,
    );
    expect(await getEntry(world.db, medium.entry.id)).toMatchObject({
      state: "rejected",
      lastError: { kind: "review_rejected" },
    });
    const [task] = await world.db.select().from(tasks).where(eq(tasks.id, medium.task.id)).limit(1);
    expect(task?.state).toBe("pending");
    if (!task) throw new Error("task");
    const prompt = await buildPrompt(world.db, task, { base: "abc", checks: [], context: [] });
    expect(prompt.text).toContain("## A reviewer rejected an earlier change for this task");
    expect(prompt.text).toContain("- Totals must round to whole cents");
    // Rejecting it again: it is not waiting any more.
    await expect(
      (async () =>
        rejectEntry(
          world.db,
          world.config,
          { entryId: medium.entry.id, reason: "again", next: "close" },
          reviewer,
        ))(),
    ).rejects.toThrow(/is rejected, not waiting/);
  });

  it("rejecting with close ends the task and its request with the reason", async () => {
    const medium = await fileAndQueue("src/cart/cart.js");
    await rejectEntry(
      world.db,
      world.config,
      { entryId: medium.entry.id, reason: "Not wanted", next: "close" },
      reviewer,
    );
    await advance(world.db, world.config, "d");
    const [task] = await world.db.select().from(tasks).where(eq(tasks.id, medium.task.id)).limit(1);
    expect(task).toMatchObject({
      state: "failed",
      blockedReason: expect.stringMatching(/Not wanted/),
    });
    const [request] = await world.db
      .select({ status: requests.status })
      .from(requests)
      .where(eq(requests.id, medium.requestId))
      .limit(1);
    expect(request?.status).toBe("failed");
  });

  it("the built-in developer's change: a plain send-back is refused and says why; the reviewer closes the task or hands it to an agent the policy names", async () => {
    const medium = await fileAndQueue("src/cart/cart.js");
    const waitingFor = async () =>
      (await listWaiting(world.db, world.config, reviewer)).find(
        (w) => w.entryId === medium.entry.id,
      );
    // The approvals page says so up front: nothing to hand it to yet.
    expect((await waitingFor())?.reject).toEqual({
      builtin: true,
      handoffAgents: [],
      sendBackRepeats: true,
    });
    const reject = async (extra: Partial<RejectInput>) =>
      rejectEntry(
        world.db,
        world.config,
        { entryId: medium.entry.id, reason: "Round to cents", next: "redispatch", ...extra },
        reviewer,
      );
    await expect(reject({})).rejects.toThrow(
      /next: C\d+ is the built-in developer's change, and the built-in developer cannot act on a reason.*name an agent in the policy/,
    );
    await expect(reject({ agent: "claude" })).rejects.toThrow(
      /agent: demo's policy names no agent to hand it to/,
    );
    givePolicyAgent();
    expect((await waitingFor())?.reject.handoffAgents).toEqual(["command"]);
    await expect(reject({})).rejects.toThrow(/hand it to an agent the policy names \(command\)/);
    await expect(reject({ agent: "codex" })).rejects.toThrow(
      /agent: 'codex' is not an agent demo's policy names; name one of: command/,
    );
    await expect(reject({ agent: "command", next: "close" })).rejects.toThrow(
      /agent: a closed task goes to no agent/,
    );
    // Nothing was written by the refusals.
    expect(await decisions()).toBe(0);
    expect((await getEntry(world.db, medium.entry.id))?.state).toBe("awaiting_approval");

    // Through the router as the page calls it: handed to the command agent.
    const caller = createCallerFactory(appRouter)({
      db: world.db,
      env: world.env,
      user: reviewer,
    } as never);
    const res = await caller.approval.reject({
      entryId: medium.entry.id,
      reason: "Round to cents",
      next: "redispatch",
      agent: "command",
    });
    expect(res).toMatchObject({ next: "redispatch", agent: "command" });
    const [task] = await world.db.select().from(tasks).where(eq(tasks.id, medium.task.id)).limit(1);
    expect(task).toMatchObject({ state: "pending", agent: "command" });
    expect((await world.db.select().from(approvals).limit(1))[0]).toMatchObject({
      decision: "rejected",
      next: "redispatch",
      agent: "command",
    });
    // The dispatch now gives it to the command agent, not the built-in developer: a pass without
    // an agent pool leaves it pending rather than making the same change again.
    const out = await advance(world.db, world.config, "d");
    expect(out.developed).toEqual([]);
    expect(
      (await world.db.select().from(tasks).where(eq(tasks.id, medium.task.id)).limit(1))[0]?.state,
    ).toBe("pending");
  });

  it("the built-in developer's change may still be closed", async () => {
    const medium = await fileAndQueue("src/cart/cart.js");
    await rejectEntry(
      world.db,
      world.config,
      { entryId: medium.entry.id, reason: "Not wanted", next: "close" },
      reviewer,
    );
    expect(
      (await world.db.select().from(tasks).where(eq(tasks.id, medium.task.id)).limit(1))[0]?.state,
    ).toBe("failed");
  });
});
