import path from "node:path";
import { asc, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { LoadedConfig } from "@/server/config/load";
import { requests, tasks } from "@/server/db/schema";
import { createDemoRepo } from "@/server/demo/create";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { advance } from "./advance";
import { startRepoDispatchers } from "./loops";

// The dispatcher as a loop per repository: a repository whose pass hangs or fails delays only
// its own next pass, and a repository's pass touches only its own requests and tasks.

/** Waits for a condition to hold, checking again after each turn of the event loop's timers. */
async function until(what: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await what())) await new Promise((r) => setTimeout(r, 5));
}

const configOf = (...names: string[]): LoadedConfig => ({
  file: "test",
  repositories: names.map((name) => ({ name, path: `/nowhere/${name}`, targetBranch: "main" })),
});

describe("repository loops in the dispatcher", () => {
  it("a repository whose pass hangs, and one whose pass fails, never hold up another's passes", async () => {
    const passes = new Map<string, number>();
    let release = () => {};
    const hung = new Promise<void>((resolve) => {
      release = resolve;
    });
    const loops = startRepoDispatchers({
      config: () => configOf("stuck", "broken", "healthy"),
      intervalMs: 1,
      pass: async (_config, repo) => {
        passes.set(repo, (passes.get(repo) ?? 0) + 1);
        if (repo === "stuck") await hung;
        if (repo === "broken") throw new Error("its repository is gone");
      },
    });
    try {
      await until(() => (passes.get("healthy") ?? 0) >= 10 && (passes.get("broken") ?? 0) >= 10);
      // The stuck repository's first pass is still running, and no second one was started.
      expect(passes.get("stuck")).toBe(1);
      expect(loops.busy()).toContain("stuck");
      release();
      await until(() => (passes.get("stuck") ?? 0) >= 2);
    } finally {
      release();
      loops.stop();
    }
  });

  it("a repository added to the configuration gets passes at the next tick; a removed one none", async () => {
    let config = configOf("one");
    const passes: string[] = [];
    const loops = startRepoDispatchers({
      config: () => config,
      intervalMs: 1,
      pass: async (_config, repo) => {
        passes.push(repo);
      },
    });
    try {
      await until(() => passes.includes("one"));
      config = configOf("two");
      await until(() => passes.includes("two"));
      const after = passes.length;
      await until(() => passes.length >= after + 5);
      expect(passes.slice(after)).not.toContain("one");
    } finally {
      loops.stop();
    }
  });
});

describe("a repository's pass", () => {
  let world: TestWorld;
  beforeEach(async () => {
    world = await makeWorld();
    const demo = world.config.repositories[0];
    if (!demo) throw new Error("no demo repository");
    const dir = path.join(world.dir, "repos", "api");
    await createDemoRepo(dir);
    world.config = {
      ...world.config,
      repositories: [...world.config.repositories, { ...demo, name: "api", path: dir }],
    };
  });
  afterEach(() => world.cleanup());

  const file = async (repo: string) =>
    (
      await createRequests(world.db, {
        input: { title: `In ${repo}`, description: "", repo, files: ["docs/guide.md"] },
        requester: world.admin,
        config: world.config,
        source: "cli",
      })
    )[0]?.id ?? 0;
  const statusOf = async (id: number) =>
    (await world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;

  it("plans, dispatches and develops its own repository's work only", async () => {
    const demo = await file("demo");
    const api = await file("api");
    await advance(world.db, world.config, "d", undefined, undefined, undefined, "api");
    expect(await statusOf(api)).toBe("in_progress");
    expect(await statusOf(demo)).toBe("received");
    const apiTasks = await world.db
      .select({ id: tasks.id, repo: tasks.repo, state: tasks.state })
      .from(tasks)
      .orderBy(asc(tasks.id));
    expect(apiTasks).toEqual([{ id: `${api}.1`, repo: "api", state: "submitted" }]);

    await advance(world.db, world.config, "d", undefined, undefined, undefined, "demo");
    expect(await statusOf(demo)).toBe("in_progress");
  });
});
