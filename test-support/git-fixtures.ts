import fs from "node:fs";
import path from "node:path";
import { git } from "@/server/git/run";
import { tempDir } from "./fixtures";

const ENV = {
  GIT_AUTHOR_NAME: "Test",
  GIT_AUTHOR_EMAIL: "test@example.test",
  GIT_COMMITTER_NAME: "Test",
  GIT_COMMITTER_EMAIL: "test@example.test",
};

/**
 * A bare target repository and a working clone to author patches in, as an agent would:
 * edit files in the clone, commit, and take `git diff --binary --full-index` as the patch.
 */
export async function makeRepoPair(files: Record<string, string | Buffer>) {
  const root = tempDir("hyperion-git-");
  const work = path.join(root, "work");
  const bare = path.join(root, "target.git");
  fs.mkdirSync(work);
  await git(["init", "-q", "-b", "main"], { cwd: work });
  write(work, files);
  await git(["add", "-A"], { cwd: work });
  await git(["commit", "-q", "-m", "initial"], { cwd: work, env: ENV });
  await git(["clone", "-q", "--bare", work, bare], { cwd: root });
  const run = (args: string[], input?: string) => git(args, { cwd: work, env: ENV, input });
  return {
    root,
    work,
    bare,
    run,
    head: async () => (await run(["rev-parse", "HEAD"])).trim(),
    /** Commits edits in the clone and returns the patch from `from` (default: HEAD before). */
    async change(edit: (dir: string) => void | Promise<void>, message = "change", from?: string) {
      const before = from ?? (await run(["rev-parse", "HEAD"])).trim();
      await edit(work);
      await run(["add", "-A"]);
      await run(["commit", "-q", "--allow-empty", "-m", message]);
      const after = (await run(["rev-parse", "HEAD"])).trim();
      const patch = await run(["diff", "--binary", "--full-index", "-M", before, after]);
      return { before, after, patch };
    },
    tip: async (branch = "main") => (await git(["rev-parse", branch], { cwd: bare })).trim(),
    treeOf: async (rev: string, repo = bare) =>
      (await git(["rev-parse", `${rev}^{tree}`], { cwd: repo })).trim(),
    log: async () => git(["log", "--format=%H %s%n%b", "main"], { cwd: bare }),
    cleanup: () => fs.rmSync(root, { recursive: true, force: true }),
  };
}

export function write(dir: string, files: Record<string, string | Buffer>) {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, content);
  }
}

export function countTrailers(log: string, changeId: number): number {
  return log.split("\n").filter((l) => l === `Hyperion-Change-Request: ${changeId}`).length;
}
