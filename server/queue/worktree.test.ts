import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { git } from "@/server/git/run";
import { makeWorld, type TestWorld, tempDir } from "@/test-support/fixtures";
import { getEntry } from "../state/queue/store";
import { defaultLoopOptions, runQueueLoop } from "./loop";
import { submitChanges } from "./submit";

const ENV = {
  GIT_AUTHOR_NAME: "T",
  GIT_AUTHOR_EMAIL: "t@example.test",
  GIT_COMMITTER_NAME: "T",
  GIT_COMMITTER_EMAIL: "t@example.test",
};

let world: TestWorld;
beforeEach(async () => {
  world = await makeWorld();
});
afterEach(() => world.cleanup());

/** Submits a patch that adds one docs file and drains the queue; returns the entry's id. */
async function landNewFile(name: string, line: string): Promise<number> {
  const patch = [
    `diff --git a/docs/${name} b/docs/${name}`,
    "new file mode 100644",
    "--- /dev/null",
    `+++ b/docs/${name}`,
    "@@ -0,0 +1 @@",
    `+${line}`,
    "",
  ].join("\n");
  const [sub] = await submitChanges(
    world.db,
    { repo: "demo", patch, summary: name, author: { name: "A", email: "a@example.test" } },
    world.config,
  );
  await runQueueLoop({
    db: world.db,
    config: () => world.config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, maxAttempts: 1 },
    shouldStop: () => false,
  });
  return sub?.entryId ?? 0;
}

describe("a checked-out branch after a crash", () => {
  it("a worktree left one landing behind is caught up, not refused as dirty", async () => {
    const repo = world.config.repositories[0]?.path ?? "";
    // A landing that moved the branch and died before updating the files: main moves, the
    // worktree and its index stay on the old commit.
    const clone = tempDir("hyperion-clone-");
    await git(["clone", "-q", repo, clone], { cwd: clone });
    fs.writeFileSync(path.join(clone, "docs", "crash.md"), "landed before the crash\n");
    await git(["add", "-A"], { cwd: clone });
    await git(["commit", "-q", "-m", "landed"], { cwd: clone, env: ENV });
    await git(["fetch", "-q", clone, "main:refs/hyperion-test/landed"], { cwd: repo });
    await git(["update-ref", "refs/heads/main", "refs/hyperion-test/landed"], { cwd: repo });
    expect(fs.existsSync(path.join(repo, "docs", "crash.md"))).toBe(false);

    const entryId = await landNewFile("after.md", "after the crash");
    expect((await getEntry(world.db, entryId))?.state).toBe("merged");
    expect(fs.readFileSync(path.join(repo, "docs", "crash.md"), "utf8")).toBe(
      "landed before the crash\n",
    );
    expect(fs.readFileSync(path.join(repo, "docs", "after.md"), "utf8")).toBe("after the crash\n");
    expect((await git(["status", "--porcelain"], { cwd: repo })).trim()).toBe("");
    fs.rmSync(clone, { recursive: true, force: true });
  });

  it("real local edits are still refused", async () => {
    const repo = world.config.repositories[0]?.path ?? "";
    fs.appendFileSync(path.join(repo, "README.md"), "a local edit\n");
    const entryId = await landNewFile("x.md", "x");
    expect((await getEntry(world.db, entryId))?.lastError?.kind).toBe("worktree_dirty");
  });
});
