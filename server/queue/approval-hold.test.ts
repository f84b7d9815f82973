import fs from "node:fs";
import path from "node:path";
import { asc } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Policy } from "@/schemas/policy";
import { approveEntry, openDiff, rejectEntry } from "@/server/approvals/service";
import type { LoadedConfig } from "@/server/config/load";
import { queueEntries } from "@/server/db/schema";
import { git } from "@/server/git/run";
import type { User } from "@/server/users/service";
import { queueBoard } from "@/server/views/board";
import { entryTimeline } from "@/server/views/timeline";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { defaultLoopOptions, runQueueLoop } from "./loop";
import { submitChanges } from "./submit";

// Item 6 of the checked queue: an entry waiting for a reviewer holds its paths. A later change to
// one of them waits (and /queue and its page say behind what), while changes to other paths land;
// once it is approved and landed, or rejected, the waiting one goes on, in submission order. The
// same through the one-at-a-time loop and through the speculative pipeline.

let world: TestWorld;
let repo: Awaited<ReturnType<typeof makeRepoPair>>;
let reviewer: User;

beforeEach(async () => {
  world = await makeWorld();
  reviewer = await world.userWith("reviewer");
  repo = await makeRepoPair({ "a.txt": "a\n", "b.txt": "b\n", "c.txt": "c\n" });
});
afterEach(async () => {
  await world.cleanup();
  repo.cleanup();
});

const configWith = (pipeline: boolean): LoadedConfig => ({
  file: "test",
  repositories: [
    {
      name: "t",
      path: repo.bare,
      targetBranch: "main",
      policy: Policy.parse({
        checks: { ok: "true" },
        ...(pipeline ? { queue: { pipeline: { window: 8, batch: { max: 4 } } } } : {}),
      }),
    },
  ],
});

async function submit(config: LoadedConfig, file: string, line: string, risk = "low") {
  const { patch } = await repo.change((d) => fs.appendFileSync(path.join(d, file), `${line}\n`));
  return submitPatch(config, patch, line, risk);
}

async function submitPatch(config: LoadedConfig, patch: string, summary: string, risk = "low") {
  const [sub] = await submitChanges(
    world.db,
    {
      repo: "t",
      patch,
      summary,
      risk,
      checks: ["ok"],
      author: { name: "A", email: "a@example.test" },
    },
    config,
  );
  if (!sub) throw new Error("nothing submitted");
  return sub.entryId;
}

async function drain(config: LoadedConfig) {
  await runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0 },
    shouldStop: () => false,
  });
}

const states = async () =>
  (
    await world.db
      .select({ id: queueEntries.id, state: queueEntries.state })
      .from(queueEntries)
      .orderBy(asc(queueEntries.id))
  ).map((e) => e.state);
const subjects = async () =>
  (await git(["log", "--format=%s", "main"], { cwd: repo.bare })).trim().split("\n").reverse();

for (const pipeline of [false, true]) {
  describe(pipeline ? "through the pipeline" : "one at a time", () => {
    it("a later change to a path of an entry waiting for a reviewer waits; others land; approval lands both in order", async () => {
      const config = configWith(pipeline);
      const held = await submit(config, "a.txt", "medium on a", "medium");
      const behind = await submit(config, "a.txt", "low on a");
      const other = await submit(config, "b.txt", "low on b");
      const after = await submit(config, "c.txt", "low on c");
      // Drain ends with the held entry waiting and the one behind it queued: only a person moves them.
      await drain(config);
      expect(await states()).toEqual(["awaiting_approval", "queued", "merged", "merged"]);
      expect(await subjects()).toEqual(["initial", "low on b", "low on c"]);
      expect([other, after].length).toBe(2);

      const board = await queueBoard(world.db);
      expect(board.moving.find((e) => e.id === behind)?.blockedBy).toEqual([
        { id: held, state: "awaiting_approval" },
      ]);
      const page = await entryTimeline(world.db, behind);
      expect(page.blockedBy).toEqual([{ id: held, state: "awaiting_approval" }]);
      expect(page.next).toContain(`It waits behind Q${held}`);
      expect(page.next).toContain("waits for a reviewer");

      const { patchHash } = await openDiff(world.db, held, reviewer);
      await approveEntry(world.db, config, { entryId: held, patchHash }, reviewer);
      await drain(config);
      expect(await states()).toEqual(["merged", "merged", "merged", "merged"]);
      expect(await subjects()).toEqual([
        "initial",
        "low on b",
        "low on c",
        "medium on a",
        "low on a",
      ]);
    });

    it("a rejected entry releases its paths: the one behind it lands", async () => {
      const config = configWith(pipeline);
      const initial = await repo.tip();
      const held = await submit(config, "a.txt", "medium on a", "medium");
      await submit(config, "b.txt", "low on b");
      // A rewrite of a.txt made on the initial commit, so it applies without the held change.
      const { patch } = await repo.change(
        (d) => fs.writeFileSync(path.join(d, "a.txt"), "z\n"),
        "rewrite",
        initial,
      );
      await submitPatch(config, patch, "low rewrite of a");
      await drain(config);
      expect(await states()).toEqual(["awaiting_approval", "merged", "queued"]);
      await rejectEntry(
        world.db,
        world.config,
        { entryId: held, reason: "not this way", next: "close" },
        reviewer,
      );
      await drain(config);
      expect(await states()).toEqual(["rejected", "merged", "merged"]);
      expect(await subjects()).toEqual(["initial", "low on b", "low rewrite of a"]);
    });
  });
}
