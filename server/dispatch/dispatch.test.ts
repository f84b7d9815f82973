import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import { requests, tasks } from "@/server/db/schema";
import { demoPolicy } from "@/server/demo/policy";
import { git } from "@/server/git/run";
import { planRequest } from "@/server/planning/plan";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld, worldEnv } from "@/test-support/fixtures";
import { advance } from "./advance";
import { dispatchOnce } from "./dispatch";
import { gate, type LockHolder, lockConflict } from "./gate";

const policy = Policy.parse(demoPolicy);
const t = (
  id: string,
  area: string,
  files: string[],
  extra: Partial<LockHolder & { dependsOn: string[] }> = {},
): LockHolder & { dependsOn: string[] } => ({
  id,
  repo: "demo",
  area,
  lockScope: policy.areas.find((a) => a.name === area)?.lockScope ?? "area",
  neededFiles: files,
  lockKeys: files.map((f) => `demo:file:${f}`),
  dependsOn: [],
  ...extra,
});

describe("the pre-dispatch gate (the seed's exclusion rules)", () => {
  it("1: one active holder per area lock", () => {
    const verdict = gate(
      t("2.1", "pricing", ["src/pricing/pricing.js"], { lockKeys: ["demo:area:pricing"] }),
      {
        done: new Set(),
        active: [
          t("1.1", "pricing", ["src/pricing-extra.js"], { lockKeys: ["demo:area:pricing"] }),
        ],
        policy,
      },
    );
    expect(verdict).toEqual({
      ok: false,
      reason: "Lock conflict: R1.1 currently holds overlapping lock key(s) demo:area:pricing",
    });
  });

  it("2: different areas run in parallel", () => {
    expect(
      lockConflict(
        t("2.1", "cart", ["src/cart/cart.js"]),
        [t("1.1", "pricing", ["src/pricing/pricing.js"])],
        policy,
      ),
    ).toBeNull();
  });

  it("3: low-risk areas share when their files differ, even with an area lock", () => {
    const docsArea = (id: string, f: string) => t(id, "docs", [f], { lockScope: "area" });
    expect(
      lockConflict(docsArea("2.1", "docs/a.md"), [docsArea("1.1", "docs/b.md")], policy),
    ).toBeNull();
  });

  it("4: a file-scoped area shares when files differ", () => {
    expect(
      lockConflict(
        t("2.1", "cart", ["src/cart/cart.js"]),
        [t("1.1", "cart", ["src/cart-json.js"])],
        policy,
      ),
    ).toBeNull();
  });

  it("5: overlapping files are a hard conflict, in any area", () => {
    expect(
      lockConflict(
        t("2.1", "docs", ["docs/guide.md"]),
        [t("1.1", "docs", ["docs/guide.md"])],
        policy,
      )?.id,
    ).toBe("1.1");
  });

  it("6: a task whose area is missing goes back to triage", () => {
    expect(gate(t("2.1", "nowhere", ["x"]), { done: new Set(), active: [], policy })).toMatchObject(
      { ok: false, triage: true },
    );
  });

  it("waits for every dependency, and other repositories never conflict", () => {
    expect(
      gate(t("2.2", "tests", ["tests/a.test.js"], { dependsOn: ["2.1"] }), {
        done: new Set(),
        active: [],
        policy,
      }),
    ).toEqual({
      ok: false,
      reason: "Waiting on R2.1",
    });
    expect(
      lockConflict(
        t("2.1", "cart", ["src/cart/cart.js"]),
        [t("1.1", "cart", ["src/cart/cart.js"], { repo: "other" })],
        policy,
      ),
    ).toBeNull();
  });
});

describe("dispatching", () => {
  let world: TestWorld;
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(() => world.cleanup());

  const file = async (input: Record<string, unknown>) => {
    const [r] = await createRequests(world.db, {
      input: { repo: "demo", description: "", ...input },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    await planRequest(world.db, world.config, r?.id ?? 0);
    return r?.id ?? 0;
  };
  const taskState = async (id: string) =>
    (await world.db.select().from(tasks).where(eq(tasks.id, id)).limit(1))[0];

  it("claims independent tasks and blocks one that overlaps an active task, saying why", async () => {
    await file({ title: "One", files: ["docs/guide.md"] });
    await file({ title: "Two", files: ["docs/guide.md"] });
    await file({ title: "Three", files: ["src/cart/cart.js"] });
    const claimed = (await dispatchOnce(world.db, world.config, "d1")).map((x) => x.id);
    expect(claimed).toEqual(["1.1", "3.1"]);
    expect((await taskState("2.1"))?.blockedReason).toBe(
      "Lock conflict: R1.1 currently holds overlapping lock key(s) demo:file:docs/guide.md",
    );
  });

  it("an expired lease releases the task's locks", async () => {
    await file({ title: "One", files: ["docs/guide.md"] });
    await file({ title: "Two", files: ["docs/guide.md"] });
    const now = Date.now();
    expect((await dispatchOnce(world.db, world.config, "d1", now, 1000)).map((x) => x.id)).toEqual([
      "1.1",
    ]);
    expect(
      (await dispatchOnce(world.db, world.config, "d2", now + 5000, 1000)).map((x) => x.id),
    ).toEqual(["1.1"]);
    expect(await taskState("1.1")).toMatchObject({ leaseOwner: "d2", attempts: 2 });
  });

  it("two dispatcher processes on one database never both win a claim", async () => {
    for (let i = 0; i < 30; i++)
      await file({ title: `Doc ${i}`, files: [`docs/page-${i % 10}.md`] });
    const script = path.resolve("server/dispatch/fixtures/dispatch-once.ts");
    // A barrier: each process writes its ready file once it is set up, then claims only when
    // the go file exists, which is made after all three are ready.
    const barrier = path.join(world.dir, "barrier");
    fs.mkdirSync(barrier);
    const go = path.join(barrier, "go");
    const readyFiles = [0, 1, 2].map((i) => path.join(barrier, `ready-${i}`));
    const allReady = (() => {
      const watcher = fs.watch(barrier);
      return new Promise<void>((resolve) => {
        const check = () => {
          if (readyFiles.every((f) => fs.existsSync(f))) {
            watcher.close();
            resolve();
          }
        };
        watcher.on("change", check);
        check();
      });
    })();
    const children = readyFiles.map((ready) =>
      execa("node", ["bin/run-ts.mjs", script], {
        env: { ...worldEnv(world), DISPATCH_READY_FILE: ready, DISPATCH_GO_FILE: go },
      }),
    );
    // A child that fails before it is ready fails the test here rather than hanging it.
    await Promise.race([
      allReady,
      ...children.map((c) =>
        c.then((r) => {
          throw new Error(`a dispatcher exited before the barrier: ${r.stderr}`);
        }),
      ),
    ]);
    fs.writeFileSync(go, "");
    const results = await Promise.all(children);
    const claims = results.flatMap((r) => JSON.parse(r.stdout) as string[]);
    expect(new Set(claims).size).toBe(claims.length);
    // Ten distinct files: exactly one task per file can hold its lock.
    expect(claims).toHaveLength(10);
  });

  it("runs the whole path: plan, dispatch, built-in developer, merge queue", async () => {
    const id = await file({
      title: "Explain caps",
      files: ["docs/guide.md", "tests/cart.test.js"],
    });
    const first = await advance(world.db, world.config, "d1");
    expect(first.developed.map((d) => d.task).sort()).toEqual(["1.1", "1.2"]);
    const repo = world.config.repositories[0]?.path ?? "";
    const { runQueueLoop, defaultLoopOptions } = await import("@/server/queue/loop");
    await runQueueLoop({
      db: world.db,
      config: () => world.config,
      owner: "q",
      opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5 },
      shouldStop: () => false,
    });
    await advance(world.db, world.config, "d1");
    const [request] = await world.db
      .select({ status: requests.status })
      .from(requests)
      .where(eq(requests.id, id))
      .limit(1);
    expect(request?.status).toBe("done");
    const log = await git(["log", "--format=%B", "main"], { cwd: repo });
    expect(log).toContain("Hyperion-Task: 1.1");
    expect(await git(["show", "main:docs/guide.md"], { cwd: repo })).toContain(
      "<!-- Hyperion note (task 1.",
    );
  });
});

describe("request-level dependencies and bad input", () => {
  let world: TestWorld;
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(() => world.cleanup());

  it("a request's tasks wait until the requests it depends on are done", async () => {
    const [first] = await createRequests(world.db, {
      input: { title: "A", description: "", repo: "demo", files: ["docs/a.md"] },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    const [second] = await createRequests(world.db, {
      input: {
        title: "B",
        description: "",
        repo: "demo",
        files: ["docs/b.md"],
        dependsOn: [first?.id],
      },
      requester: world.admin,
      config: world.config,
      source: "cli",
    });
    await planRequest(world.db, world.config, first?.id ?? 0);
    await planRequest(world.db, world.config, second?.id ?? 0);
    expect((await dispatchOnce(world.db, world.config, "d")).map((x) => x.id)).toEqual(["1.1"]);
    expect(
      (await world.db.select().from(tasks).where(eq(tasks.id, "2.1")).limit(1))[0]?.blockedReason,
    ).toBe("Waiting on request 1");
  });

  it("an unknown area name is refused at intake, naming it, and nothing is written", async () => {
    await expect(
      (async () =>
        createRequests(world.db, {
          input: { title: "x", description: "", repo: "demo", areas: ["docs", "kitchen"] },
          requester: world.admin,
          config: world.config,
          source: "cli",
        }))(),
    ).rejects.toThrow("areas[1]: unknown area 'kitchen'");
    expect(await world.db.select().from(requests)).toHaveLength(0);
  });
});
