import fs from "node:fs";
import path from "node:path";
import { git } from "@/server/git/run";
import { demoFiles } from "./files";

const AUTHOR = {
  GIT_AUTHOR_NAME: "Hyperion Demo",
  GIT_AUTHOR_EMAIL: "demo@hyperion.local",
  GIT_COMMITTER_NAME: "Hyperion Demo",
  GIT_COMMITTER_EMAIL: "demo@hyperion.local",
};

/** Creates the demo repository (a real git repo on branch main) unless it already exists. */
export async function createDemoRepo(dir: string): Promise<boolean> {
  if (fs.existsSync(path.join(dir, ".git"))) return false;
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, content] of Object.entries(demoFiles)) {
    const target = path.join(dir, file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, content);
  }
  await git(["init", "--quiet", "--initial-branch=main"], { cwd: dir });
  await git(["add", "--all"], { cwd: dir });
  await git(["commit", "--quiet", "--no-gpg-sign", "-m", "Demo shop: first commit"], {
    cwd: dir,
    env: AUTHOR,
  });
  return true;
}
