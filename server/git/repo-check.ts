import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { program } from "@/server/confine/programs";
import { inheritedEnv } from "@/server/env.mjs";
import { FIXED_ENV } from "./run";

/** Variables that would point git somewhere other than the folder asked about. */
const REDIRECTING = [
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_COMMON_DIR",
  "GIT_INDEX_FILE",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_NAMESPACE",
  "GIT_CEILING_DIRECTORIES",
  "GIT_DISCOVERY_ACROSS_FILESYSTEM",
];

/**
 * Why `dir` is not a git repository Hyperion can serve, or undefined. Git itself decides
 * (`rev-parse --git-dir`), so a folder that only looks like one (a `HEAD` and an `objects/`)
 * is refused as git would refuse it. The parent is a ceiling, so a folder inside some other
 * repository does not pass for that repository. Synchronous, because the config is checked at
 * start-up and on reload, where there is nothing to await.
 */
export function gitRepositoryProblem(dir: string): string | undefined {
  // A path the system cannot take (a NUL byte) is refused by the config's schema; should one
  // come here all the same, it is a problem to report, not a throw.
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(dir, { throwIfNoEntry: false });
  } catch {
    return "cannot be read";
  }
  if (!stat) return "does not exist";
  if (!stat.isDirectory()) return "is not a directory";
  let real: string;
  try {
    real = fs.realpathSync(dir);
  } catch {
    return "cannot be read";
  }
  const env: NodeJS.ProcessEnv = inheritedEnv();
  for (const name of REDIRECTING) delete env[name];
  Object.assign(env, FIXED_ENV, { GIT_CEILING_DIRECTORIES: path.dirname(real) });
  try {
    execFileSync(program("git"), ["rev-parse", "--git-dir", "--is-bare-repository"], {
      cwd: real,
      env,
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 10_000,
    });
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "");
    if (stderr.includes("dubious ownership"))
      return "is owned by another user, so git refuses it (see git's safe.directory)";
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "cannot be checked: git is not installed";
    if (code === "ETIMEDOUT") return "cannot be checked: git took longer than 10 s";
    return "is not a git repository";
  }
}
