import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readEnv } from "@/server/env.mjs";

export type Sandbox =
  | { kind: "bwrap"; bwrap: string }
  /** `allowed`: the operator chose to run without (HYPERION_CONFINE=none). */
  | { kind: "none"; reason: string; allowed: boolean };

const probed = new Map<string, Sandbox>();

export const INSTALL_BWRAP = "apt-get install -y bubblewrap";

/**
 * Whether bubblewrap can confine children here: found (or `HYPERION_BWRAP`) and tried once,
 * since inside some containers user namespaces are refused. Without it, children run only when
 * the operator says so with `HYPERION_CONFINE=none`; otherwise they are refused with the fix.
 */
export function detectSandbox(): Sandbox {
  if (process.env.HYPERION_CONFINE === "none")
    return { kind: "none", reason: "HYPERION_CONFINE=none", allowed: true };
  const key = process.env.HYPERION_BWRAP ?? "";
  let found = probed.get(key);
  if (!found) {
    found = probe(key);
    probed.set(key, found);
  }
  return found;
}

function probe(configured: string): Sandbox {
  const candidates = configured ? [configured] : ["/usr/bin/bwrap", "/bin/bwrap"];
  const bwrap = candidates.find((p) => fs.existsSync(p));
  if (!bwrap)
    return {
      kind: "none",
      reason: `bubblewrap is not installed (${INSTALL_BWRAP})`,
      allowed: false,
    };
  try {
    execFileSync(
      bwrap,
      ["--ro-bind", "/", "/", "--unshare-all", "--die-with-parent", "--", "/bin/true"],
      { stdio: "ignore", timeout: 10_000, env: {} as NodeJS.ProcessEnv },
    );
    return { kind: "bwrap", bwrap };
  } catch (err) {
    return {
      kind: "none",
      reason: `bubblewrap cannot start here (${(err as Error).message.split("\n")[0]})`,
      allowed: false,
    };
  }
}

/** One line for start-up and for every run's log: how children are confined. */
export function describeSandbox(s: Sandbox = detectSandbox()): string {
  if (s.kind === "bwrap")
    return `checks and agents run confined by bubblewrap (${s.bwrap}): only the system's program folders visible, read-only; their run folder the only one writable`;
  if (s.allowed)
    return "checks and agents run WITHOUT a sandbox (HYPERION_CONFINE=none): they get a scrubbed environment, their own home, and bounded time and output, but can read what the server's user can";
  return `checks and agents cannot run: ${s.reason}. Install it (${INSTALL_BWRAP}), or set HYPERION_CONFINE=none to run them without a sandbox`;
}

// What a confined child sees of the machine: programs and their libraries, and /etc — not
// /home, /root, /var, /run (sockets: a read-only mount does not stop connect()), /srv, /mnt,
// nor wherever Hyperion, its data and its repositories live.
const SYSTEM_DIRS = [
  "/usr",
  "/bin",
  "/sbin",
  "/lib",
  "/lib32",
  "/lib64",
  "/libx32",
  "/etc",
  "/opt",
];
// Inside /etc, what only the machine's owner should read.
const HIDDEN_IN_ETC = ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"];
const HIDDEN_DIRS_IN_ETC = ["/etc/ssh", "/etc/ssl/private", "/etc/sudoers.d"];

const inside = (child: string, parent: string) => {
  const rel = path.relative(parent, child);
  return rel === "" || (!rel.startsWith("..") && !path.isAbsolute(rel));
};

/** Folders a child must never see even where they fall inside what it sees. */
export function secretDirs(): string[] {
  const dirs = new Set<string>();
  const add = (p: string | undefined) => {
    if (!p) return;
    dirs.add(path.resolve(p));
    try {
      dirs.add(fs.realpathSync(p));
    } catch {
      // Not there: nothing to hide beyond the path itself.
    }
  };
  try {
    const env = readEnv();
    add(env.dataDir);
    add(path.dirname(env.configPath));
    if (env.HYPERION_INBOX) add(env.HYPERION_INBOX);
  } catch {
    add(process.env.HYPERION_DATA || "./data");
  }
  add(os.homedir());
  add(process.env.HYPERION_ROOT ?? process.cwd());
  return [...dirs].filter((d) => d !== "/");
}

/**
 * The program folders to show read-only: the system's, Node's own installation (nvm puts it
 * under a home), and the rest of PATH — except what lies in a secret folder.
 */
function visibleDirs(secrets: string[]): string[] {
  const nodePrefix = path.dirname(path.dirname(process.execPath));
  const fromPath = (process.env.PATH ?? "")
    .split(":")
    .filter((d) => path.isAbsolute(d) && !secrets.some((s) => inside(d, s)));
  const out: string[] = [];
  for (const dir of [...SYSTEM_DIRS, nodePrefix, ...fromPath]) {
    if (!fs.existsSync(dir) || out.some((o) => inside(dir, o))) continue;
    out.push(dir);
  }
  return out;
}

/** bubblewrap's arguments for a run whose only writable folder is `runDir`. */
export function bwrapArgs(opts: {
  runDir: string;
  cwd: string;
  env: Record<string, string>;
  network: boolean;
  /** More folders to show read-only (an agent CLI's installation, objects to borrow). */
  readOnly?: string[];
}): string[] {
  const secrets = secretDirs();
  const visible = visibleDirs(secrets);
  const args = [
    "--die-with-parent",
    "--new-session",
    "--unshare-all",
    ...(opts.network ? ["--share-net"] : []),
  ];
  for (const dir of visible) args.push("--ro-bind", dir, dir);
  for (const file of HIDDEN_IN_ETC)
    if (fs.existsSync(file)) args.push("--ro-bind", "/dev/null", file);
  for (const dir of HIDDEN_DIRS_IN_ETC) if (fs.existsSync(dir)) args.push("--tmpfs", dir);
  // A secret folder that lies inside a visible one (data under /opt, say) is covered too.
  for (const dir of secrets)
    if (visible.some((v) => inside(dir, v)) && fs.existsSync(dir)) args.push("--tmpfs", dir);
  args.push("--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp");
  // Named by the caller, after the hiding and the empty /tmp: an agent CLI installed under a
  // home or in a temp folder, say.
  const withinRun = (opts.readOnly ?? []).filter((d) => inside(d, opts.runDir));
  for (const dir of opts.readOnly ?? [])
    if (!withinRun.includes(dir)) args.push("--ro-bind", dir, dir);
  args.push("--bind", opts.runDir, opts.runDir);
  // A read-only folder inside the run folder (the Engineer's workspace) must come after it.
  for (const dir of withinRun) args.push("--ro-bind", dir, dir);
  args.push("--chdir", opts.cwd, "--clearenv");
  for (const [k, v] of Object.entries(opts.env)) args.push("--setenv", k, v);
  return args;
}
