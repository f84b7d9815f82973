import fs from "node:fs";
import path from "node:path";
import { currentEnv } from "@/server/env.mjs";

// Which cgroup hierarchy (v2, else v1) can hold a run's processes here, found once per process:
// the backend RunLimiter (limits.ts) enforces a run's limits with.

type Cgroup1 = { kind: "cgroup1"; pids: string; memory: string; cpuacct: string | null };
type Cgroup2 = { kind: "cgroup2"; base: string };
export type LimitBackend = Cgroup1 | Cgroup2 | { kind: "rlimit"; why: string };

type Mount = { point: string; fstype: string; options: string[] };

function cgroupMounts(): Mount[] {
  try {
    return fs
      .readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .flatMap((line) => {
        const [left, right] = line.split(" - ");
        if (!left || !right) return [];
        const point = left.split(" ")[4] ?? "";
        const [fstype = "", , superOpts = ""] = right.split(" ");
        return fstype === "cgroup" || fstype === "cgroup2"
          ? [{ point, fstype, options: superOpts.split(",") }]
          : [];
      });
  } catch {
    return [];
  }
}

/** Our own cgroup in each hierarchy: "memory" → "/process_api/x", "" (v2) → "/". */
function ownCgroups(): Map<string, string> {
  const out = new Map<string, string>();
  try {
    for (const line of fs.readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")) {
      const [, controllers = "", p = "/"] = line.split(":");
      for (const c of controllers.split(",")) out.set(c, p);
    }
  } catch {
    // No cgroups here.
  }
  return out;
}

/** Whether a child cgroup can be made under `dir` (tried, then removed). */
function canCreateUnder(dir: string): boolean {
  const probe = path.join(dir, `hyperion-probe-${process.pid}`);
  try {
    fs.mkdirSync(probe);
    fs.rmdirSync(probe);
    return true;
  } catch {
    return false;
  }
}

function detectCgroup2(mounts: Mount[], own: Map<string, string>): Cgroup2 | string {
  const m = mounts.find((x) => x.fstype === "cgroup2");
  if (!m) return "no cgroup v2 hierarchy";
  // turbopackIgnore: a host path (not a project file); without it Next traces the whole project.
  const base = path.join(/* turbopackIgnore: true */ m.point, own.get("") ?? "/");
  let controllers: string[] = [];
  try {
    controllers = fs
      .readFileSync(path.join(base, "cgroup.controllers"), "utf8")
      .trim()
      .split(/\s+/);
  } catch {
    return `cgroup v2 at ${base} is not readable`;
  }
  if (!controllers.includes("pids") || !controllers.includes("memory"))
    return `cgroup v2 does not delegate the pids and memory controllers here (${base} has: ${controllers.join(" ") || "none"})`;
  if (!canCreateUnder(base)) return `cgroup v2 at ${base} is not writable`;
  // A cgroup with processes in it cannot give controllers to children ("no internal
  // processes"): move Hyperion into a leaf of its own first.
  const enable = () =>
    fs.writeFileSync(path.join(base, "cgroup.subtree_control"), "+pids +memory +cpu");
  try {
    enable();
  } catch {
    try {
      const leaf = path.join(base, "hyperion-main");
      fs.mkdirSync(leaf, { recursive: true });
      fs.writeFileSync(path.join(leaf, "cgroup.procs"), String(process.pid));
      enable();
    } catch (err) {
      return `cgroup v2 at ${base} cannot enable pids and memory for children (${(err as Error).message})`;
    }
  }
  return { kind: "cgroup2", base };
}

function detectCgroup1(mounts: Mount[], own: Map<string, string>): Cgroup1 | string {
  const dirFor = (controller: string) => {
    const m = mounts.find((x) => x.fstype === "cgroup" && x.options.includes(controller));
    return m ? path.join(/* turbopackIgnore: true */ m.point, own.get(controller) ?? "/") : null;
  };
  const pids = dirFor("pids");
  const memory = dirFor("memory");
  if (!pids || !memory) return "no cgroup v1 pids and memory hierarchies";
  if (!canCreateUnder(pids) || !canCreateUnder(memory))
    return "cgroup v1 hierarchies are not writable (Hyperion is not root)";
  const cpuacct = dirFor("cpuacct");
  return {
    kind: "cgroup1",
    pids,
    memory,
    cpuacct: cpuacct && canCreateUnder(cpuacct) ? cpuacct : null,
  };
}

let backend: LimitBackend | undefined;

/**
 * How limits are enforced here: cgroup v2 where the machine delegates it, else the cgroup v1
 * hierarchies when Hyperion may write them (root), else rlimits inside the sandbox plus a
 * watcher of the run's processes. `HYPERION_LIMITS=rlimit` forces the last.
 */
export function limitBackend(): LimitBackend {
  backend ??= findBackend();
  return backend;
}

function findBackend(): LimitBackend {
  if (currentEnv().HYPERION_LIMITS === "rlimit")
    return { kind: "rlimit", why: "HYPERION_LIMITS=rlimit" };
  const mounts = cgroupMounts();
  const own = ownCgroups();
  const v2 = detectCgroup2(mounts, own);
  if (typeof v2 !== "string") return v2;
  const v1 = detectCgroup1(mounts, own);
  if (typeof v1 !== "string") return v1;
  return { kind: "rlimit", why: `${v2}; ${v1}` };
}

export function resetLimitBackend(): void {
  backend = undefined;
}

export function describeLimits(b: LimitBackend = limitBackend()): string {
  if (b.kind === "cgroup2")
    return `processes and memory by cgroup v2 (${b.base}); CPU time and file size by rlimits; disk use by a watcher`;
  if (b.kind === "cgroup1")
    return `processes and memory by cgroup v1 (${b.pids}, ${b.memory})${b.cpuacct ? ", CPU time by cpuacct" : ""}; per-process CPU time and file size by rlimits; disk use by a watcher`;
  return `processes, memory, CPU time and file size by rlimits inside the sandbox, totals by a watcher of the run's processes (${b.why}); disk use by a watcher`;
}
