import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { LoadedConfig } from "@/server/config/load";
import { git } from "@/server/git/run";
import { makeWorld, type TestWorld, tempDir } from "@/test-support/fixtures";
import { getEntry } from "../state/queue/store";
import { defaultLoopOptions, runQueueLoop } from "./loop";
import { submitChanges } from "./submit";

const ENV = {
  GIT_AUTHOR_NAME: "Upstream",
  GIT_AUTHOR_EMAIL: "up@example.test",
  GIT_COMMITTER_NAME: "Upstream",
  GIT_COMMITTER_EMAIL: "up@example.test",
};

const cleanups: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

/**
 * Replays `commits` of `upstream` (oldest first) as change requests, in order, into a bare
 * repository that holds only the first one's parent, and compares each landed tree with
 * upstream's. Each patch applies to the tip, whose tree is its parent's.
 */
async function replayHistory(world: TestWorld, upstream: string, commits: string[]) {
  const root = tempDir("hyperion-history-");
  cleanups.push(() => fs.rmSync(root, { recursive: true, force: true }));
  const target = path.join(root, "target.git");
  // Only the objects of the starting point: every later blob must be made from the patches.
  const first = commits[0] ?? "";
  const start = (await git(["rev-parse", `${first}^`], { cwd: upstream })).trim();
  await git(["init", "-q", "--bare", target], { cwd: root });
  await git(["fetch", "-q", upstream, `${start}:refs/heads/main`], { cwd: target });
  const config: LoadedConfig = {
    file: "t",
    repositories: [{ name: "up", path: target, targetBranch: "main" }],
  };
  const entries: { entryId: number; commit: string }[] = [];
  for (const commit of commits) {
    const patch = await git(["diff", "--binary", "--full-index", `${commit}^`, commit], {
      cwd: upstream,
    });
    if (!patch.trim()) continue;
    const [sub] = await submitChanges(
      world.db,
      {
        repo: "up",
        patch,
        summary: `replay ${commit.slice(0, 8)}`,
        author: { name: "Replayer", email: "replay@example.test" },
      },
      config,
    );
    entries.push({ entryId: sub?.entryId ?? 0, commit });
  }
  await runQueueLoop({
    db: world.db,
    config: () => config,
    owner: "history",
    opts: {
      ...defaultLoopOptions({}),
      drain: true,
      pollMs: 5,
      backoffBaseMs: 0,
      backoffMaxMs: 0,
      maxAttempts: 1,
    },
    shouldStop: () => false,
  });
  const results = [];
  for (const { entryId, commit } of entries) {
    const entry = await getEntry(world.db, entryId);
    const upstreamTree = (await git(["rev-parse", `${commit}^{tree}`], { cwd: upstream })).trim();
    const landedTree = entry?.mergedCommit
      ? (await git(["rev-parse", `${entry.mergedCommit}^{tree}`], { cwd: target })).trim()
      : null;
    results.push({
      commit: commit.slice(0, 8),
      state: entry?.state,
      same: landedTree === upstreamTree,
      error: entry?.lastError?.message,
    });
  }
  return results;
}

async function buildHistory(): Promise<{ dir: string; commits: string[] }> {
  const dir = tempDir("hyperion-upstream-");
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[]) => git(args, { cwd: dir, env: ENV });
  const put = (file: string, content: string | Buffer) => {
    fs.mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    fs.writeFileSync(path.join(dir, file), content);
  };
  const commits: string[] = [];
  const commit = async (msg: string) => {
    await run(["add", "-A"]);
    await run(["commit", "-q", "--allow-empty", "-m", msg]);
    commits.push((await run(["rev-parse", "HEAD"])).trim());
  };
  await run(["init", "-q", "-b", "main"]);
  put("README.md", "# Upstream\n");
  await commit("root");
  const body = (n: number, tag: string) =>
    Array.from({ length: n }, (_, i) => `${tag} line ${i}`).join("\n");
  put("src/app.js", `${body(80, "app")}\n`);
  put("src/util/strings.js", `${body(20, "str")}\n`);
  put("notes.txt", body(5, "no newline at end"));
  await commit("add sources");
  put(
    "src/app.js",
    `${body(80, "app").replace("app line 3", "app line three").replace("app line 70", "seventy")}\n`,
  );
  await commit("edit two places");
  put("notes.txt", `${body(5, "no newline at end")}\nnow with one\n`);
  await commit("add a final newline");
  fs.renameSync(path.join(dir, "src/util/strings.js"), path.join(dir, "src/text.js"));
  await commit("rename, removing a directory");
  fs.appendFileSync(path.join(dir, "src/text.js"), "more\n");
  fs.mkdirSync(path.join(dir, "src/lib"));
  fs.renameSync(path.join(dir, "src/text.js"), path.join(dir, "src/lib/text.js"));
  await commit("rename with edits");
  put("bin/tool.sh", "#!/bin/sh\necho tool\n");
  fs.chmodSync(path.join(dir, "bin/tool.sh"), 0o755);
  await commit("executable");
  fs.chmodSync(path.join(dir, "bin/tool.sh"), 0o644);
  await commit("mode change only");
  put("assets/logo.png", Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7919) % 256)));
  await commit("binary add");
  put("assets/logo.png", Buffer.from(Array.from({ length: 3100 }, (_, i) => (i * 104729) % 256)));
  await commit("binary change");
  put("docs/café & ü.md", "unicode name\n");
  put("docs/space name.txt", "spaces\n");
  put("empty.txt", "");
  await commit("odd names and an empty file");
  fs.symlinkSync("../README.md", path.join(dir, "docs/readme-link"));
  await commit("a symlink");
  fs.rmSync(path.join(dir, "assets"), { recursive: true });
  fs.rmSync(path.join(dir, "notes.txt"));
  await commit("deletions");
  for (let i = 0; i < 15; i++) {
    const lines = fs.readFileSync(path.join(dir, "src/app.js"), "utf8").split("\n");
    lines.splice((i * 13) % 70, 1, `edited ${i}`);
    if (i % 3 === 0) lines.splice(10, 0, `inserted ${i}`, `inserted ${i}b`);
    if (i % 4 === 0) lines.splice(40, 2);
    fs.writeFileSync(path.join(dir, "src/app.js"), lines.join("\n"));
    put(`src/gen/g${i}.js`, `export const g${i} = ${i};\n`);
    await commit(`series ${i}`);
  }
  return { dir, commits: commits.slice(1) };
}

describe("real history", () => {
  it("replaying consecutive commits as change requests reproduces every upstream tree byte for byte", async () => {
    const world = await makeWorld();
    cleanups.push(() => world.cleanup());
    const { dir, commits } = await buildHistory();
    const results = await replayHistory(world, dir, commits);
    expect(results.length).toBe(commits.length);
    for (const r of results) expect(r).toMatchObject({ state: "merged", same: true });
  });

  // Any repository's history: HYPERION_HISTORY_REPO=/path/to/clone HYPERION_HISTORY_COMMITS=500
  // npx vitest run server/queue/history.test.ts. By default, this repository's own history.
  // The test above always runs, on a generated history; this one needs a full clone with at
  // least two first-parent commits. A shallow clone's oldest commit has no parent to diff
  // against, and deepening it needs the network, so it is skipped there, saying why.
  const root = process.env.HYPERION_HISTORY_REPO ?? process.env.HYPERION_ROOT ?? process.cwd();
  const limit = Number(process.env.HYPERION_HISTORY_COMMITS ?? 40);
  const gitSync = (args: string[]) => {
    try {
      return execFileSync("git", args, { cwd: root, encoding: "utf8", stdio: "pipe" }).trim();
    } catch {
      return null;
    }
  };
  const hasHistory =
    (fs.existsSync(path.join(root, ".git")) || fs.existsSync(path.join(root, "HEAD"))) &&
    gitSync(["rev-parse", "--verify", "-q", "HEAD"]) !== null;
  const shallow = hasHistory && gitSync(["rev-parse", "--is-shallow-repository"]) === "true";
  // Pinned when the file is collected: the tree may gain commits while the test runs.
  const head = hasHistory ? (gitSync(["rev-parse", "HEAD"]) ?? "HEAD") : "HEAD";
  const firstParents = hasHistory
    ? Number(gitSync(["rev-list", "--first-parent", "--count", head]) ?? 0)
    : 0;
  const why = !hasHistory
    ? "no git repository here"
    : shallow
      ? "a shallow clone: its oldest commit's parent is missing and deepening needs the network"
      : firstParents < 2
        ? "fewer than two first-parent commits"
        : "";
  it.skipIf(why !== "")(
    `replaying the first-parent history of ${process.env.HYPERION_HISTORY_REPO ? root : "this repository"} reproduces its trees${why ? ` (skipped: ${why})` : ""}`,
    async () => {
      const world = await makeWorld();
      cleanups.push(() => world.cleanup());
      const list = (await git(["rev-list", "--first-parent", "--reverse", head], { cwd: root }))
        .trim()
        .split("\n");
      const commits = list.slice(1, limit + 1);
      expect(commits).toHaveLength(Math.min(limit, firstParents - 1));
      // Commits that change nothing are not change requests; every other one is replayed.
      let changing = 0;
      for (const commit of commits) {
        const same = await git(["diff", "--quiet", `${commit}^`, commit], { cwd: root }).then(
          () => true,
          () => false,
        );
        if (!same) changing++;
      }
      expect(changing).toBeGreaterThan(0);
      const results = await replayHistory(world, root, commits);
      expect(results).toHaveLength(changing);
      for (const r of results) expect(r).toMatchObject({ state: "merged", same: true });
    },
    600_000,
  );
});
