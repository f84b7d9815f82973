import fs from "node:fs";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HyperionConfig } from "@/schemas/config";
import { GithubConfig } from "@/schemas/github";
import type { LoadedConfig } from "@/server/config/load";
import { git } from "@/server/git/run";
import { defaultLoopOptions, runQueueLoop } from "@/server/queue/loop";
import { submitChanges } from "@/server/queue/submit";
import { getEntry } from "@/server/state/queue/store";
import { entryTimeline } from "@/server/views/timeline";
import { startFakeGithub } from "@/test-support/fake-github";
import { makeWorld, type TestWorld } from "@/test-support/fixtures";
import { makeRepoPair } from "@/test-support/git-fixtures";
import { startGitDaemon } from "@/test-support/git-server";
import { followPullRequests } from "./forge";
import { syncRemote } from "./sync";

// Land "pull-request" (protected branches): the change's commit goes out on its own branch of
// the git server (git daemon) with a pull request on (the fake) GitHub; the entry waits
// in_review until the forge merges it (merged, with the forge's merge commit) or closes it.

const TOKEN = "ghp_pr0123456789abcdefghijkl";
let world: TestWorld;
let upstream: Awaited<ReturnType<typeof makeRepoPair>>;
let daemon: Awaited<ReturnType<typeof startGitDaemon>>;
let gh: Awaited<ReturnType<typeof startFakeGithub>>;
let config: LoadedConfig;

beforeEach(async () => {
  world = await makeWorld();
  upstream = await makeRepoPair({ "a.txt": "a\n", "b.txt": "b\n" });
  daemon = await startGitDaemon(upstream.root);
  gh = await startFakeGithub({ token: TOKEN, repo: "acme/shop" });
  process.env.HYPERION_GITHUB_TOKEN = TOKEN;
  config = {
    file: "test",
    github: GithubConfig.parse({ apiUrl: gh.apiUrl }),
    repositories: [
      {
        name: "t",
        path: path.join(world.dir, "mirrors", "t.git"),
        remote: daemon.url("target.git"),
        targetBranch: "main",
        github: "acme/shop",
        land: "pull-request",
      },
    ],
  };
  await syncRemote(world.db, config.repositories[0] as never);
});
afterEach(async () => {
  delete process.env.HYPERION_GITHUB_TOKEN;
  await gh.stop();
  await daemon.stop();
  await world.cleanup();
  upstream.cleanup();
});

async function submit(file: string, text: string) {
  const { patch } = await upstream.change((d) => fs.writeFileSync(path.join(d, file), text));
  const [sub] = await submitChanges(
    world.db,
    { repo: "t", patch, summary: `change ${file}`, author: { name: "A", email: "a@x.test" } },
    config,
  );
  return sub?.entryId ?? 0;
}

const drain = () =>
  runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "q",
    opts: { ...defaultLoopOptions({}), drain: true, pollMs: 5, backoffBaseMs: 0 },
    shouldStop: () => false,
  });

describe('land "pull-request"', () => {
  it("opens a pull request from the change's own branch; the forge's merge makes the entry merged with its commit", async () => {
    const before = (await git(["rev-parse", "main"], { cwd: upstream.bare })).trim();
    const id = await submit("a.txt", "a via a pull request\n");
    await drain();
    const entry = await getEntry(world.db, id);
    expect(entry?.state).toBe("in_review");
    // The server's target branch did not move; the change is on its own branch.
    expect((await git(["rev-parse", "main"], { cwd: upstream.bare })).trim()).toBe(before);
    const branch = `hyperion/q${id}`;
    const head = (await git(["rev-parse", branch], { cwd: upstream.bare })).trim();
    expect(await git(["show", `${branch}:a.txt`], { cwd: upstream.bare })).toBe(
      "a via a pull request\n",
    );
    const [pr] = [...gh.pulls.values()];
    expect(pr).toMatchObject({
      head: { ref: branch },
      base: { ref: "main" },
      title: "change a.txt",
    });
    expect(entry?.pullRequest).toMatchObject({ number: pr?.number, branch });
    expect((await entryTimeline(world.db, id)).next).toContain("pull request is open");

    // Still open: nothing moves.
    expect(await followPullRequests(world.db, config)).toBe(0);
    // The forge merges it (fast-forward here), and Hyperion records it.
    await git(["update-ref", "refs/heads/main", head], { cwd: upstream.bare });
    gh.mergePull(pr?.number ?? 0, head);
    expect(await followPullRequests(world.db, config)).toBe(1);
    expect(await getEntry(world.db, id)).toMatchObject({ state: "merged", mergedCommit: head });
    expect(
      (await git(["rev-parse", "main"], { cwd: config.repositories[0]?.path ?? "" })).trim(),
    ).toBe(head);
  });

  it("a pull request closed without merging rejects its entry, with the reason", async () => {
    const id = await submit("b.txt", "b via a pull request\n");
    await drain();
    const [pr] = [...gh.pulls.values()];
    gh.closePull(pr?.number ?? 0);
    await followPullRequests(world.db, config);
    const entry = await getEntry(world.db, id);
    expect(entry?.state).toBe("rejected");
    expect(entry?.lastError?.message).toContain("closed without merging");
  });

  it("is refused without a remote and a github repository, naming the key", () => {
    const parsed = HyperionConfig.safeParse({
      repositories: [{ name: "t", path: "/srv/t.git", land: "pull-request" }],
    });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error?.issues)).toContain('"land"');
  });
});
