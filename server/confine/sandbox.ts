import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

export type Sandbox = { kind: "bwrap"; bwrap: string } | { kind: "none"; reason: string };

let cached: Sandbox | undefined;

/**
 * Whether bubblewrap can confine children here. Found on PATH (or `HYPERION_BWRAP`), and tried
 * once: inside some containers user namespaces are refused, and then it cannot help.
 * `HYPERION_CONFINE=none` turns it off on purpose (said at start and on every run).
 */
export function detectSandbox(): Sandbox {
  if (cached) return cached;
  if (process.env.HYPERION_CONFINE === "none") {
    cached = { kind: "none", reason: "HYPERION_CONFINE=none" };
    return cached;
  }
  const candidates = [process.env.HYPERION_BWRAP, "/usr/bin/bwrap", "/bin/bwrap"].filter(
    (p): p is string => !!p,
  );
  const bwrap = candidates.find((p) => fs.existsSync(p));
  if (!bwrap) {
    cached = {
      kind: "none",
      reason: "bubblewrap is not installed (apt-get install -y bubblewrap)",
    };
    return cached;
  }
  try {
    execFileSync(
      bwrap,
      ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "/bin/true"],
      {
        stdio: "ignore",
        timeout: 10_000,
        env: {} as NodeJS.ProcessEnv,
      },
    );
    cached = { kind: "bwrap", bwrap };
  } catch (err) {
    cached = { kind: "none", reason: `bubblewrap cannot start here: ${(err as Error).message}` };
  }
  return cached;
}

/** One line for start-up and for every run's log: how children are confined. */
export function describeSandbox(s: Sandbox = detectSandbox()): string {
  return s.kind === "bwrap"
    ? `children run confined by bubblewrap (${s.bwrap}): read-only system, only their run folder writable, Hyperion's data hidden`
    : `children are NOT sandboxed: ${s.reason}; they still get a scrubbed environment, their own home, and bounded time and output`;
}

/** Folders a child must never see: Hyperion's data, its config, the server user's home. */
export function secretDirs(): string[] {
  const dirs = new Set<string>();
  const add = (p: string | undefined) => {
    if (!p) return;
    const abs = path.resolve(p);
    dirs.add(abs);
    try {
      dirs.add(fs.realpathSync(abs));
    } catch {
      // Not there (yet): nothing to hide beyond the path itself.
    }
  };
  add(process.env.HYPERION_DATA ?? "./data");
  if (process.env.HYPERION_CONFIG) add(path.dirname(process.env.HYPERION_CONFIG));
  add(os.homedir());
  return [...dirs].filter((d) => d !== "/" && fs.existsSync(d));
}

/** bubblewrap's arguments for a run whose only writable folder is `runDir`. */
export function bwrapArgs(opts: {
  runDir: string;
  cwd: string;
  env: Record<string, string>;
  network: boolean;
  hide: string[];
}): string[] {
  const args = [
    "--die-with-parent",
    "--new-session",
    "--unshare-all",
    ...(opts.network ? ["--share-net"] : []),
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--tmpfs",
    "/tmp",
    "--tmpfs",
    "/dev/shm",
  ];
  // Hidden folders are covered by empty tmpfs; the run folder is mounted last (bubblewrap
  // reads bind sources from the real root), so it stays writable even under one of them.
  for (const dir of opts.hide) args.push("--tmpfs", dir);
  args.push("--bind", opts.runDir, opts.runDir, "--chdir", opts.cwd, "--clearenv");
  for (const [k, v] of Object.entries(opts.env)) args.push("--setenv", k, v);
  return args;
}
