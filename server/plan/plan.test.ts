import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import { type LoadedConfig, loadConfig } from "@/server/config/load";
import { changeRequests, events, planApprovals, queueEntries, tasks } from "@/server/db/schema";
import { demoPolicy } from "@/server/demo/policy";
import { dispatchOnce } from "@/server/dispatch/dispatch";
import { Repo } from "@/server/git/repo";
import { git } from "@/server/git/run";
import { planRequest } from "@/server/planning/plan";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { createRequests } from "@/server/requests/service";
import { createCallerFactory } from "@/server/trpc/init";
import { appRouter } from "@/server/trpc/root";
import { shutPlanGates } from "@/server/views/plans";
import { makeWorld, NO_APPROVALS, type TestWorld } from "@/test-support/fixtures";
import { goodPlan } from "./fixtures/plans";
import { approvePlan, planDetail, planStatus } from "./plan";

const AUTHOR = { name: "Plan Author", email: "plan@example.test" };
const GATE = "Plan gate: ";

describe("the plan gate a repository owns", () => {
  let world: TestWorld;
  let config: LoadedConfig;
  let dir: string;

  beforeEach(async () => {
    world = await makeWorld();
    // The demo repository's policy, naming its plan file.
    config = {
      ...world.config,
      repositories: world.config.repositories.map((r) => ({
        ...r,
        policy: Policy.parse({ ...demoPolicy, approvals: NO_APPROVALS, plan: "WORKPLAN.md" }),
      })),
    };
    dir = config.repositories[0]?.path ?? "";
  });
  afterEach(() => world.cleanup());

  const commitPlan = async (content: string | Buffer, message = "Plan") => {
    fs.writeFileSync(path.join(dir, "WORKPLAN.md"), content);
    const repo = Repo.at(dir);
    await repo.addAll();
    await repo.commit(message, AUTHOR);
  };
  const file = async (title: string, files: string[]) => {
    const [r] = await createRequests(world.db, {
      input: { repo: "demo", title, description: "", files },
      requester: world.admin,
      config,
      source: "cli",
    });
    await planRequest(world.db, config, r?.id ?? 0);
    return r?.id ?? 0;
  };
  const task = async (id: string) =>
    (await world.db.select().from(tasks).where(eq(tasks.id, id)).limit(1))[0];
  const dispatched = async () => (await dispatchOnce(world.db, config, "d1")).map((t) => t.id);
  const approvalsStored = async () => (await world.db.select().from(planApprovals)).length;

  it("a repository without its plan file dispatches nothing, saying what to add", async () => {
    await file("Docs", ["docs/guide.md"]);
    expect(await dispatched()).toEqual([]);
    expect((await task("1.1"))?.blockedReason).toMatch(
      /^Plan gate: WORKPLAN\.md is not on main \([0-9a-f]{7}\); add WORKPLAN\.md with a '## Plan Metadata' section/,
    );
    expect((await task("1.1"))?.state).toBe("pending");
  });

  it("a missing section: nothing dispatched, the section named; an admin cannot approve it", async () => {
    await commitPlan(goodPlan().replace("## Validation\ntest\n", ""));
    await file("Docs", ["docs/guide.md"]);
    expect(await dispatched()).toEqual([]);
    expect((await task("1.1"))?.blockedReason).toBe(
      `${GATE}WORKPLAN.md: section 'Validation' is missing; add a '## Validation' section to WORKPLAN.md and land the change`,
    );
    await expect(approvePlan(world.db, config, "demo", world.admin)).rejects.toThrow(
      "WORKPLAN.md: section 'Validation' is missing",
    );
    expect(await approvalsStored()).toBe(0);
    expect(await shutPlanGates(world.db, config)).toEqual([
      {
        repo: "demo",
        file: "WORKPLAN.md",
        reason: "WORKPLAN.md: section 'Validation' is missing",
        fix: "add a '## Validation' section to WORKPLAN.md and land the change",
      },
    ]);
  });

  it.each(["Approved: no", "Approved: yes.", "approved: Yes"])(
    "no line matches the approval pattern (%j): nothing dispatched, the line named",
    async (line) => {
      await commitPlan(goodPlan(line));
      await file("Docs", ["docs/guide.md"]);
      expect(await dispatched()).toEqual([]);
      expect((await task("1.1"))?.blockedReason).toMatch(
        /^Plan gate: WORKPLAN\.md has no 'Approved: yes' line; /,
      );
      expect((await planStatus(world.db, config, "demo"))?.state).toBe("problem");
    },
  );

  it("a plan naming a command in its validation policy is refused as a request naming one is", async () => {
    await commitPlan(goodPlan("Approved: yes", "", "test; npm test"));
    expect((await planStatus(world.db, config, "demo"))?.reason).toBe(
      "WORKPLAN.md: validation policy: 'npm test' is not a check of repository 'demo'; its checks: test",
    );
  });

  it("the first plan waits for an admin; only an admin approves it; then tasks dispatch", async () => {
    await commitPlan(goodPlan());
    await file("Docs", ["docs/guide.md"]);
    expect(await dispatched()).toEqual([]);
    expect((await task("1.1"))?.blockedReason).toBe(
      `${GATE}WORKPLAN.md has not been approved by an admin yet; an admin reads it on the Plans page (/plans) or with \`hyperion plan demo\` and approves it (\`hyperion plan approve demo\`)`,
    );
    const detail = await planDetail(world.db, config, "demo");
    expect(detail.state).toBe("unapproved");
    // Never approved: the whole text is shown as new.
    expect(detail.diff).toContain("+## Plan Metadata");
    for (const role of ["requester", "reviewer", "operator"] as const)
      await expect(
        approvePlan(world.db, config, "demo", await world.userWith(role)),
      ).rejects.toThrow("only an admin approves a repository's plan");
    expect(await approvalsStored()).toBe(0);

    const status = await approvePlan(world.db, config, "demo", world.admin, detail.textHash ?? "");
    expect(status.state).toBe("open");
    expect(await dispatched()).toEqual(["1.1"]);
    const [event] = await world.db.select().from(events).where(eq(events.type, "plan.approved"));
    expect(event?.payload).toMatchObject({ repo: "demo", by: world.admin.email });
  });

  it("a plan changed by an agent's change is high risk; once landed its approval is void until an admin approves the diff", async () => {
    await commitPlan(goodPlan());
    await approvePlan(world.db, config, "demo", world.admin);
    // The agent's patch, as `git diff --binary --full-index` writes it, filed as low risk.
    fs.writeFileSync(
      path.join(dir, "WORKPLAN.md"),
      goodPlan().replace("- Phase 1", "- Phase 1: a bigger scope"),
    );
    const patch = await git(["diff", "--binary", "--full-index"], { cwd: dir });
    await git(["checkout", "--", "WORKPLAN.md"], { cwd: dir });
    const [submitted] = await submitChanges(
      world.db,
      { repo: "demo", patch, summary: "Widen the plan", author: AUTHOR, risk: "low" },
      config,
    );
    const [stored] = await world.db
      .select({ risk: changeRequests.risk })
      .from(changeRequests)
      .where(eq(changeRequests.id, submitted?.id ?? 0));
    expect(stored?.risk).toBe("high");
    // Still approved while the change waits: the tip's plan is the approved text.
    expect((await planStatus(world.db, config, "demo"))?.state).toBe("open");

    await runQueueLoop({
      db: world.db,
      config: () => config,
      owner: "q",
      opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5 },
      shouldStop: () => false,
    });
    const [entry] = await world.db
      .select({ state: queueEntries.state })
      .from(queueEntries)
      .where(eq(queueEntries.id, submitted?.entryId ?? 0));
    expect(entry?.state).toBe("merged");

    await file("Docs", ["docs/guide.md"]);
    expect(await dispatched()).toEqual([]);
    expect((await task("1.1"))?.blockedReason).toMatch(
      /^Plan gate: WORKPLAN\.md changed since an admin approved it \(at [0-9a-f]{7}\); its approval is void; an admin reads the diff/,
    );
    const detail = await planDetail(world.db, config, "demo");
    expect(detail.state).toBe("changed");
    expect(detail.diff).toContain("-- Phase 1\n+- Phase 1: a bigger scope");

    // An approval of a text the admin did not see is refused, and writes nothing.
    const before = await approvalsStored();
    await expect(
      approvePlan(world.db, config, "demo", world.admin, detail.approved?.textHash ?? ""),
    ).rejects.toThrow("WORKPLAN.md changed since you read it");
    expect(await approvalsStored()).toBe(before);

    await approvePlan(world.db, config, "demo", world.admin, detail.textHash ?? "");
    expect((await planStatus(world.db, config, "demo"))?.state).toBe("open");
    expect(await dispatched()).toEqual(["1.1"]);
  });

  it("a 5 MB plan is refused, naming the file and the limit; nothing written, the gate shut", async () => {
    await commitPlan(`${goodPlan()}${"x".repeat(5 * 1024 * 1024)}\n`);
    await file("Docs", ["docs/guide.md"]);
    expect(await dispatched()).toEqual([]);
    expect((await task("1.1"))?.blockedReason).toMatch(
      /^Plan gate: WORKPLAN\.md is \d+ bytes; the limit is 1048576 bytes; shorten WORKPLAN\.md/,
    );
    await expect(approvePlan(world.db, config, "demo", world.admin)).rejects.toThrow(
      "the limit is 1048576 bytes",
    );
    expect(await approvalsStored()).toBe(0);
  });

  it("a plan that is not UTF-8 is refused, naming the byte and the line; nothing written", async () => {
    await commitPlan(Buffer.concat([Buffer.from(goodPlan()), Buffer.from([0xff, 0x0a])]));
    const status = await planStatus(world.db, config, "demo");
    expect(status?.reason).toMatch(
      /^WORKPLAN\.md is not valid UTF-8: byte \d+ \(line 20\) is 0xff$/,
    );
    await expect(approvePlan(world.db, config, "demo", world.admin)).rejects.toThrow(
      "is not valid UTF-8",
    );
    expect(await approvalsStored()).toBe(0);
  });

  it("repeated sections are refused, naming the section and its lines", async () => {
    await commitPlan(goodPlan("Approved: yes", "## Intent\nagain\n"));
    expect((await planStatus(world.db, config, "demo"))?.reason).toBe(
      "WORKPLAN.md: section 'Intent' is repeated (lines 8, 13)",
    );
  });

  it("another repository's tasks are not held by this one's plan", async () => {
    const other = {
      ...config,
      repositories: config.repositories.map((r) => ({
        ...r,
        policy: Policy.parse({ ...demoPolicy, approvals: NO_APPROVALS }),
      })),
    };
    await file("Docs", ["docs/guide.md"]);
    expect((await dispatchOnce(world.db, other, "d1")).map((t) => t.id)).toEqual(["1.1"]);
  });
});

describe("the plan procedures", () => {
  let world: TestWorld;
  beforeEach(async () => {
    world = await makeWorld();
    // The config file itself names the plan: the procedures read it as the server does.
    const raw = JSON.parse(fs.readFileSync(world.env.configPath, "utf8"));
    for (const r of raw.repositories) r.policy = { ...r.policy, plan: "WORKPLAN.md" };
    fs.writeFileSync(world.env.configPath, `${JSON.stringify(raw, null, 2)}\n`);
    const dir = loadConfig(world.env.configPath).repositories[0]?.path ?? "";
    fs.writeFileSync(path.join(dir, "WORKPLAN.md"), goodPlan());
    await Repo.at(dir).addAll();
    await Repo.at(dir).commit("Plan", AUTHOR);
  });
  afterEach(() => world.cleanup());

  const caller = (user: TestWorld["admin"]) =>
    createCallerFactory(appRouter)({
      db: world.db,
      env: world.env,
      user,
      crossOrigin: false,
      via: "session",
    });

  it("everyone sees the gate; only an admin approves, and only the text shown", async () => {
    const requester = await world.userWith("requester");
    const page = await caller(requester).plan.list();
    expect(page.canApprove).toBe(false);
    const [plan] = page.plans;
    expect(plan).toMatchObject({ repo: "demo", state: "unapproved" });
    const textHash = plan?.textHash ?? "";
    await expect(caller(requester).plan.approve({ repo: "demo", textHash })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    const operator = await world.userWith("operator");
    await expect(caller(operator).plan.approve({ repo: "demo", textHash })).rejects.toMatchObject({
      code: "FORBIDDEN",
    });
    await expect(
      caller(world.admin).plan.approve({ repo: "demo", textHash: "0".repeat(64) }),
    ).rejects.toMatchObject({ code: "CONFLICT" });
    await expect(
      caller(world.admin).plan.approve({ repo: "demo", textHash: "not-a-hash" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
    expect(await world.db.select().from(planApprovals)).toHaveLength(0);
    expect(await caller(world.admin).plan.approve({ repo: "demo", textHash })).toMatchObject({
      state: "open",
    });
    expect((await caller(requester).plan.list()).plans[0]?.state).toBe("open");
  });
});
