import path from "node:path";
import { asc, eq } from "drizzle-orm";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import { tasks } from "@/server/db/schema";
import { demoPolicy } from "@/server/demo/policy";
import { planRequest } from "@/server/planning/plan";
import { createRequests } from "@/server/requests/service";
import { makeWorld, NO_APPROVALS, type TestWorld, worldEnv } from "@/test-support/fixtures";
import { dispatchOnce } from "./dispatch";

// The seed's rule 3: "`docs` and `ci` areas are low-risk — multiple tasks can touch these if
// they edit different files". Here every area is locked whole and none says low risk, so only
// the names docs and ci let their tasks share; a file both need is still a conflict, reported in
// the seed's words.

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
  const policy = Policy.parse({
    ...demoPolicy,
    approvals: NO_APPROVALS,
    areas: [
      { name: "cart", paths: ["src/cart/**"], risk: "medium", lockScope: "area" },
      { name: "docs", paths: ["docs/**", "*.md"], risk: "medium", lockScope: "area" },
      { name: "ci", paths: [".github/**"], risk: "high", lockScope: "area" },
    ],
    validation: { lint: [], test: [] },
  });
  world.config = {
    ...world.config,
    repositories: world.config.repositories.map((r) => ({ ...r, policy })),
  };
});
afterEach(() => world.cleanup());

const file = async (name: string) => {
  const [r] = await createRequests(world.db, {
    input: { title: name, description: "", repo: "demo", files: [name], allowNewFiles: true },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  await planRequest(world.db, world.config, r?.id ?? 0);
  return r?.id ?? 0;
};

describe("docs and ci areas", () => {
  it("run several tasks at once on different files; the same file, or another area's lock, still waits", async () => {
    const guide = await file("docs/guide.md");
    const readme = await file("README.md");
    const guideAgain = await file("docs/guide.md");
    const workflow = await file(".github/workflows/ci.yml");
    const another = await file(".github/workflows/release.yml");
    const cart = await file("src/cart/cart.js");
    const cartAgain = await file("src/cart/other.js");

    const claimed = (await dispatchOnce(world.db, world.config, "d")).map((t) => t.id);
    expect(claimed).toEqual([guide, readme, workflow, another, cart].map((id) => `${id}.1`));
    const waiting = await world.db
      .select({ id: tasks.id, reason: tasks.blockedReason })
      .from(tasks)
      .where(eq(tasks.state, "pending"))
      .orderBy(asc(tasks.id));
    expect(waiting).toEqual([
      {
        id: `${guideAgain}.1`,
        reason: `Lock conflict: R${guide}.1 currently holds overlapping lock key(s) demo:file:docs/guide.md`,
      },
      {
        id: `${cartAgain}.1`,
        reason: `Lock conflict: R${cart}.1 currently holds overlapping lock key(s) demo:area:cart`,
      },
    ]);

    // `hyperion status` says why each waits, in the same words.
    const status = await execa("node", [path.resolve("bin/hyperion.mjs"), "status"], {
      env: worldEnv(world),
    });
    expect(status.stdout).toContain(
      `task R${guideAgain}.1 (demo) waits: Lock conflict: R${guide}.1 currently holds overlapping lock key(s) demo:file:docs/guide.md`,
    );
    expect(status.stdout).toContain(
      `task R${cartAgain}.1 (demo) waits: Lock conflict: R${cart}.1 currently holds overlapping lock key(s) demo:area:cart`,
    );
  });
});
