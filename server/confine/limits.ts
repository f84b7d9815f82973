import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { DEFAULT_RUN_LIMITS, RunLimits } from "@/schemas/run-limits";
import { type LimitBackend, limitBackend } from "./cgroups";
import { programOrNull } from "./programs";

export { DEFAULT_RUN_LIMITS, RunLimits };

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

/** "2 GiB", "512 MiB", "1.5 GiB": for the messages that name a limit. */
export function bytesText(n: number): string {
  for (const [unit, size] of [
    ["GiB", GiB],
    ["MiB", MiB],
    ["KiB", 1024],
  ] as const)
    if (n >= size) return `${Number((n / size).toFixed(1))} ${unit}`;
  return `${n} bytes`;
}

/**
 * The rlimits the sandbox's first program sets on itself (prlimit, inside the sandbox): a
 * process count there counts only the sandbox's own user namespace, so concurrent runs of the
 * same uid do not share it. Where a cgroup holds the run, its limits are the ones that bite (and
 * are named): the rlimits then sit a little above them as a backstop.
 */
export function rlimitArgs(limits: RunLimits, b: LimitBackend = limitBackend()): string[] {
  const prlimit = programOrNull("prlimit");
  if (!prlimit) return [];
  const cgroup = b.kind !== "rlimit";
  return [
    prlimit,
    `--nproc=${cgroup ? limits.processes + 64 : limits.processes}`,
    // Under a cgroup an allocation over the budget is OOM-killed there, and named; a per-process
    // rlimit would refuse it first, silently.
    ...(cgroup ? [] : [`--data=${limits.memoryBytes}`]),
    `--cpu=${limits.cpuSeconds + 5}`,
    `--fsize=${limits.diskBytes}`,
    "--core=0",
    "--",
  ];
}

type Usage = { tasks: number; rssBytes: number; cpuSeconds: number };

const PAGE = 4096;
const TICKS = 100;

/** The run's processes as the host sees them: `root` and every descendant, from /proc. */
function treeUsage(root: number): Usage {
  const children = new Map<number, number[]>();
  const stats = new Map<number, string[]>();
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const raw = fs.readFileSync(`/proc/${name}/stat`, "utf8");
      const f = raw.slice(raw.lastIndexOf(")") + 2).split(" ");
      const pid = Number(name);
      const ppid = Number(f[1]);
      stats.set(pid, f);
      const list = children.get(ppid) ?? [];
      list.push(pid);
      children.set(ppid, list);
    } catch {
      // Gone meanwhile.
    }
  }
  const usage: Usage = { tasks: 0, rssBytes: 0, cpuSeconds: 0 };
  const todo = [root];
  const seen = new Set<number>();
  while (todo.length) {
    const pid = todo.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    const f = stats.get(pid);
    if (f) {
      // Fields after "(comm) ": state=0 ppid=1 … utime=11 stime=12 … num_threads=17 … rss=21.
      usage.tasks += Number(f[17] ?? 1);
      usage.rssBytes += Number(f[21] ?? 0) * PAGE;
      usage.cpuSeconds += (Number(f[11] ?? 0) + Number(f[12] ?? 0)) / TICKS;
    }
    for (const c of children.get(pid) ?? []) todo.push(c);
  }
  return usage;
}

function readNumber(file: string): number | null {
  try {
    const n = Number(fs.readFileSync(file, "utf8").trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

/** A counter out of a flat keyed file ("max 3", "oom_kill 1"). */
function readKey(file: string, key: string): number {
  try {
    for (const line of fs.readFileSync(file, "utf8").split("\n")) {
      const [k, v] = line.trim().split(/\s+/);
      if (k === key) return Number(v) || 0;
    }
  } catch {
    // Not there on this kernel.
  }
  return 0;
}

let seq = 0;

/**
 * One run's limits while it runs: its cgroups (made before it starts, joined by its first
 * process before that process does anything else), and a watcher that names the first limit it
 * finds exceeded, e.g. "used more than 2 GiB of memory (runLimits.memoryBytes)".
 */
export class RunLimiter {
  readonly backend = limitBackend();
  private readonly dirs: string[] = [];
  private exceeded: string | null = null;
  private timer: NodeJS.Timeout | undefined;
  private duRunning: Promise<number> | null = null;
  private duEvery = 1;
  private ticks = 0;
  private rootPid: number | null = null;

  constructor(
    readonly limits: RunLimits,
    private readonly runRoot: string,
  ) {
    // Unique on the host, not only in this process: a pid comes back, and a cgroup a killed
    // process left behind would otherwise refuse the next run with the same name (EEXIST).
    const name = `hyperion-run-${process.pid}-${++seq}-${randomBytes(4).toString("hex")}`;
    const b = this.backend;
    try {
      if (b.kind === "cgroup2") {
        const dir = path.join(b.base, name);
        fs.mkdirSync(dir);
        this.dirs.push(dir);
        fs.writeFileSync(path.join(dir, "pids.max"), String(limits.processes));
        fs.writeFileSync(path.join(dir, "memory.max"), String(limits.memoryBytes));
        try {
          fs.writeFileSync(path.join(dir, "memory.swap.max"), "0");
        } catch {
          // No swap accounting.
        }
      } else if (b.kind === "cgroup1") {
        for (const base of [b.pids, b.memory, ...(b.cpuacct ? [b.cpuacct] : [])]) {
          const dir = path.join(base, name);
          fs.mkdirSync(dir);
          this.dirs.push(dir);
        }
        fs.writeFileSync(path.join(b.pids, name, "pids.max"), String(limits.processes));
        fs.writeFileSync(
          path.join(b.memory, name, "memory.limit_in_bytes"),
          String(limits.memoryBytes),
        );
        try {
          fs.writeFileSync(
            path.join(b.memory, name, "memory.memsw.limit_in_bytes"),
            String(limits.memoryBytes),
          );
        } catch {
          // No swap accounting.
        }
      }
    } catch (err) {
      this.close();
      throw new Error(`cannot set up the run's cgroup: ${(err as Error).message}`);
    }
  }

  /** With cgroups, the first process must join them before it starts anything (a gate). */
  get gated(): boolean {
    return this.dirs.length > 0;
  }

  /** Puts the gated first process in the run's cgroups. */
  attach(pid: number): void {
    this.rootPid = pid;
    for (const dir of this.dirs) fs.writeFileSync(path.join(dir, "cgroup.procs"), String(pid));
  }

  /** Watches the run; `onExceeded` is called once, with the limit named. */
  watch(rootPid: number, onExceeded: (reason: string) => void, everyMs = 250): void {
    this.rootPid = rootPid;
    this.timer = setInterval(() => {
      void this.check().then((why) => {
        if (why && this.timer) {
          clearInterval(this.timer);
          this.timer = undefined;
          onExceeded(why);
        }
      });
    }, everyMs);
    this.timer.unref();
  }

  /** The limit exceeded so far, or null; samples now. */
  async check(final = false): Promise<string | null> {
    if (this.exceeded) return this.exceeded;
    const l = this.limits;
    const b = this.backend;
    let over: string | null = null;
    const processes = () => `started more than ${l.processes} processes (runLimits.processes)`;
    const memory = () =>
      `used more than ${bytesText(l.memoryBytes)} of memory (runLimits.memoryBytes)`;
    const cpu = () => `used more than ${l.cpuSeconds} s of CPU time (runLimits.cpuSeconds)`;
    const run = (base: string) => path.join(base, path.basename(this.dirs[0] ?? ""));
    if (b.kind === "cgroup2") {
      const dir = this.dirs[0] as string;
      if (readKey(path.join(dir, "pids.events"), "max") > 0) over = processes();
      else if (readKey(path.join(dir, "memory.events"), "oom_kill") > 0) over = memory();
      else if (readKey(path.join(dir, "cpu.stat"), "usage_usec") / 1e6 > l.cpuSeconds) over = cpu();
    } else if (b.kind === "cgroup1") {
      if (readKey(path.join(run(b.pids), "pids.events"), "max") > 0) over = processes();
      else if (readKey(path.join(run(b.memory), "memory.oom_control"), "oom_kill") > 0)
        over = memory();
      else if (
        b.cpuacct &&
        (readNumber(path.join(run(b.cpuacct), "cpuacct.usage")) ?? 0) / 1e9 > l.cpuSeconds
      )
        over = cpu();
    } else if (this.rootPid !== null && !final) {
      const u = treeUsage(this.rootPid);
      // The sandbox's own helpers (bubblewrap's init) count too: a run at the cap is over it.
      if (u.tasks >= l.processes - 2) over = processes();
      else if (u.rssBytes > l.memoryBytes) over = memory();
      else if (u.cpuSeconds > l.cpuSeconds) over = cpu();
    }
    if (!over) over = await this.disk(final);
    if (over) this.exceeded = over;
    return over;
  }

  /** `du` of the run's folder, every few samples (more seldom when it is slow); always at the end. */
  private async disk(final: boolean): Promise<string | null> {
    this.ticks++;
    if (final) await this.duRunning;
    else if (this.duRunning || this.ticks % this.duEvery !== 0) return null;
    const du = programOrNull("du");
    if (!du) return null;
    const started = Date.now();
    const measuring = new Promise<number>((resolve) =>
      execFile(du, ["-sx", "-B1", this.runRoot], { timeout: 60_000 }, (_err, out) =>
        resolve(Number(String(out).split(/\s/)[0]) || 0),
      ),
    );
    this.duRunning = measuring;
    const used = await measuring;
    this.duRunning = null;
    // A walk that takes a tenth of the interval or more is done less often.
    this.duEvery = Math.min(40, Math.max(1, Math.ceil((Date.now() - started) / 25)));
    return used >= this.limits.diskBytes
      ? `wrote more than ${bytesText(this.limits.diskBytes)} to its workspace (runLimits.diskBytes)`
      : null;
  }

  /**
   * Ends the watch, kills whatever is left in the run's cgroups, and resolves once they are
   * empty and removed: when a run is over, none of its processes is.
   */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const dir of this.dirs) {
      for (let tries = 0; tries < 200 && fs.existsSync(dir); tries++) {
        const pids = readPids(dir);
        if (pids.length === 0) {
          try {
            fs.rmdirSync(dir);
          } catch {
            // Its last process is still being reaped.
          }
          if (!fs.existsSync(dir)) break;
        }
        try {
          fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
        } catch {
          for (const pid of pids)
            try {
              process.kill(pid, "SIGKILL");
            } catch {
              // Gone.
            }
        }
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    this.dirs.length = 0;
  }
}

function readPids(dir: string): number[] {
  try {
    return fs
      .readFileSync(path.join(dir, "cgroup.procs"), "utf8")
      .split("\n")
      .filter(Boolean)
      .map(Number);
  } catch {
    return [];
  }
}
