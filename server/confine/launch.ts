import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { sandboxUser } from "./identity";
import { DEFAULT_RUN_LIMITS, type RunLimits, rlimitArgs } from "./limits";
import { program } from "./programs";
import { bwrapArgs, type Sandbox, writeSystemFiles } from "./sandbox";

/**
 * A confined run's folder: `work` (the workspace, its cwd), `home` and `tmp`. Everything the
 * child may write is here; `${root}.sys` beside it holds what the run reads in place of the
 * host's /etc/passwd and the like (root's, read-only). Both are removed after the run.
 */
export type RunDir = { root: string; work: string; home: string; tmp: string };

export function makeRunDir(prefix = "hyperion-run-"): RunDir {
  // turbopackIgnore: a host path (not a project file); without it Next traces the whole project.
  const root = fs.mkdtempSync(path.join(/* turbopackIgnore: true */ os.tmpdir(), prefix));
  const dirs = {
    root,
    work: path.join(root, "work"),
    home: path.join(root, "home"),
    tmp: path.join(root, "tmp"),
  };
  for (const d of [dirs.work, dirs.home, dirs.tmp]) fs.mkdirSync(d, { recursive: true });
  return dirs;
}

export function removeRunDir(dir: RunDir): void {
  fs.rmSync(dir.root, { recursive: true, force: true });
  fs.rmSync(sysDirOf(dir), { recursive: true, force: true });
}

export const sysDirOf = (dir: RunDir) => `${dir.root}.sys`;

/**
 * Gives the run's folder to the sandbox user (Hyperion, as root, wrote the workspace). `-h`:
 * a symlink is changed itself, never what it points at.
 */
export function handOver(dir: RunDir): void {
  const u = sandboxUser();
  if (!u.switched) return;
  for (let cur = path.dirname(dir.root); ; cur = path.dirname(cur)) {
    if ((fs.statSync(cur).mode & 0o001) === 0)
      throw new Error(
        `the sandbox user (uid ${u.uid}) cannot enter ${cur}, where run folders are made: point TMPDIR at a folder others may traverse (chmod o+x), such as /tmp`,
      );
    if (path.dirname(cur) === cur) break;
  }
  execFileSync(program("chown"), ["-R", "-h", `${u.uid}:${u.gid}`, dir.root], {
    stdio: ["ignore", "ignore", "pipe"],
  });
}

// Holds the first process until the caller has put it in the run's cgroups: it reads one line
// from fd 3, closes it, then becomes the sandbox. A fixed script; the command is "$@".
const GATE = 'read -r _ <&3; exec 3<&-; exec "$@"';

export type ConfinedCommand = {
  file: string;
  args: string[];
  /** The environment for `file` itself: empty under bubblewrap, which sets the child's. */
  env: Record<string, string>;
  /** The first process waits on fd 3 for the caller to attach it to its cgroups. */
  gated: boolean;
};

/**
 * The command line that runs `argv` confined: [gate] → [setpriv to the sandbox user, no
 * capabilities, no_new_privs] → bubblewrap → prlimit → the program. Every program here is an
 * absolute path from the trusted folders.
 */
export function confinedCommand(opts: {
  sandbox: Sandbox;
  argv: string[];
  dir: RunDir;
  cwd: string;
  env: Record<string, string>;
  network: boolean;
  readOnly: string[];
  limits?: RunLimits;
  gated?: boolean;
}): ConfinedCommand {
  const limits = opts.limits ?? DEFAULT_RUN_LIMITS;
  let cmd = [...rlimitArgs(limits), ...opts.argv];
  let env = opts.env;
  if (opts.sandbox.kind === "bwrap") {
    writeSystemFiles(sysDirOf(opts.dir), opts.dir.home);
    cmd = [
      opts.sandbox.bwrap,
      ...bwrapArgs({
        runDir: opts.dir.root,
        sysDir: sysDirOf(opts.dir),
        cwd: opts.cwd,
        env: opts.env,
        network: opts.network,
        readOnly: opts.readOnly,
        tmpBytes: limits.tmpBytes,
      }),
      "--",
      ...cmd,
    ];
    env = {};
  }
  const u = sandboxUser();
  if (u.switched)
    cmd = [
      program("setpriv"),
      `--reuid=${u.uid}`,
      `--regid=${u.gid}`,
      "--clear-groups",
      "--inh-caps=-all",
      "--ambient-caps=-all",
      "--bounding-set=-all",
      "--no-new-privs",
      "--",
      ...cmd,
    ];
  if (opts.gated) cmd = [program("sh"), "-c", GATE, "hyperion-gate", ...cmd];
  const [file, ...args] = cmd;
  return { file: file as string, args, env, gated: opts.gated ?? false };
}
