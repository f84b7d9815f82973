import fs from "node:fs";
import path from "node:path";
import { eq, inArray } from "drizzle-orm";
import type { AgentName, CliAgentName } from "@/schemas/agents";
import type { Policy } from "@/schemas/policy";
import type { LoadedConfig } from "@/server/config/load";
import { policyFor } from "@/server/config/policy";
import type { Db } from "@/server/db/client";
import { agentRuns, tasks } from "@/server/db/schema";
import { currentEnv } from "@/server/env.mjs";
import { log } from "@/server/log";
import { liveRunStates } from "@/server/state/runs/states";
import { moveRun } from "@/server/state/runs/store";
import { moveTask, TaskMoveConflict, type TaskRow } from "@/server/state/tasks/store";
import { agentFor } from "../agents/choose";
import { adapters, cliExecutable } from "../agents/cli";
import { CliHarness } from "../agents/cli-harness";
import { CommandHarness } from "../agents/command-harness";
import type { AgentHarness, Probe } from "../agents/harness";
import type { LiveRun, RunContext } from "./context";
import { startRun } from "./start";

const PROBE_TTL_MS = 30_000;

/** The folder an installed CLI lives in (its npm prefix), shown read-only to its runs. */
export function installDirOf(executable: string): string {
  const real = fs.realpathSync(executable);
  const at = real.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  return at > 0 ? real.slice(0, at) : path.dirname(real);
}

export function harnessFor(
  name: Exclude<AgentName, "builtin">,
  policy: Policy,
  config: LoadedConfig,
): AgentHarness {
  if (name === "command")
    return new CommandHarness(policy.agents.command ?? "", {
      commandDirs: policy.agents.commandDirs,
    });
  const cli = name as CliAgentName;
  const cfg = config.agents?.[cli] ?? {};
  const find = () => cfg.path ?? cliExecutable(cli);
  return new CliHarness(adapters[cli], cfg, find, () => {
    const exe = find();
    return exe && fs.existsSync(exe) ? [installDirOf(exe)] : [];
  });
}

/**
 * The worker's agent runs: which tasks it takes (a free slot for the repository, an agent that
 * answered its probe), the runs going, their steering and their stop. Only the worker has one;
 * the CLI's one-shot dispatch leaves agent tasks to it.
 */
export class AgentPool {
  private readonly live = new Map<number, LiveRun & { repo: string }>();
  private readonly probes = new Map<string, { at: number; probe: Probe | null }>();
  /** Requests an agent Engineer is scoping now, with their repository. */
  private readonly scoping = new Map<number, { repo: string; done: Promise<void> }>();
  private readonly stopScoping = new AbortController();
  private stopping = false;

  constructor(private readonly ctx: Omit<RunContext, "config">) {}

  get size(): number {
    return this.live.size;
  }

  runs(): number[] {
    return [...this.live.keys()];
  }

  /** The dispatch filter: builtin tasks are the caller's; agent tasks need a slot and a probe. */
  accept(config: LoadedConfig) {
    return (task: TaskRow): true | false | { blocked: string } => {
      const policy = policyFor(config, task.repo);
      const name = agentFor(policy, task.area, task.agent);
      if (name === "builtin") return true;
      if (this.stopping) return false;
      const running = [...this.live.values()].filter((r) => r.repo === task.repo).length;
      if (running >= policy.agents.maxConcurrent) return false;
      const key = `${task.repo}/${name}`;
      const cached = this.probes.get(key);
      if (!cached || Date.now() - cached.at > PROBE_TTL_MS) {
        if (!cached || cached.probe !== null) this.refreshProbe(key, name, policy, config);
        if (!cached?.probe) return false;
      }
      const probe = cached.probe;
      if (!probe) return false;
      if (!probe.ok)
        return { blocked: `agent ${name} is not available: ${probe.problem}. Fix: ${probe.fix}` };
      return true;
    };
  }

  private refreshProbe(key: string, name: AgentName, policy: Policy, config: LoadedConfig) {
    if (name === "builtin") return;
    const previous = this.probes.get(key);
    this.probes.set(key, { at: previous?.at ?? 0, probe: previous?.probe ?? null });
    harnessFor(name, policy, config)
      .probe()
      .then((probe) => {
        this.probes.set(key, { at: Date.now(), probe });
        if (probe.ok) log.info({ agent: name, repo: key, version: probe.version }, "agent ready");
        else
          log.warn({ agent: name, problem: probe.problem, fix: probe.fix }, "agent not available");
      })
      .catch((err: Error) =>
        this.probes.set(key, {
          at: Date.now(),
          probe: { ok: false, problem: err.message, fix: "see the worker log" },
        }),
      );
  }

  /**
   * Probes every agent the policies name, now, and waits for the answers: the worker calls it at
   * start so a missing or signed-out CLI is reported before any task is given to it.
   */
  async probeAll(config: LoadedConfig): Promise<Map<string, Probe>> {
    const out = new Map<string, Probe>();
    const fallback = currentEnv().HYPERION_AGENT;
    for (const repo of config.repositories) {
      const policy = policyFor(config, repo.name);
      const names = new Set<AgentName>([
        ...Object.values(policy.agents.byArea),
        ...(policy.agents.default ? [policy.agents.default] : []),
        policy.agents.engineer,
        ...(fallback ? [fallback] : []),
      ]);
      for (const name of names) {
        if (name === "builtin") continue;
        const probe = await harnessFor(name, policy, config).probe();
        this.probes.set(`${repo.name}/${name}`, { at: Date.now(), probe });
        out.set(`${repo.name}/${name}`, probe);
      }
    }
    return out;
  }

  /** Resolves when every run and scoping going now has ended (tests, and the worker's stop). */
  async idle(): Promise<void> {
    while (this.live.size || this.scoping.size)
      await Promise.all([...this.live.values(), ...this.scoping.values()].map((r) => r.done));
  }

  /**
   * Has an agent Engineer scope a received request in the background: once per request at a
   * time, and at most the policy's maxConcurrent sessions per repository. `plan` gets a signal
   * that is aborted when the worker stops.
   */
  scope(
    requestId: number,
    repo: string,
    policy: Policy,
    plan: (signal: AbortSignal) => Promise<void>,
  ): void {
    if (this.stopping || this.scoping.has(requestId)) return;
    const going = [...this.scoping.values()].filter((s) => s.repo === repo).length;
    if (going >= policy.agents.maxConcurrent) return;
    const done = plan(this.stopScoping.signal)
      .catch((err: Error) => log.warn({ err, request: requestId }, "scoping failed"))
      .finally(() => this.scoping.delete(requestId));
    this.scoping.set(requestId, { repo, done });
  }

  /** Starts a claimed agent task's run; it goes on in the background. */
  async start(config: LoadedConfig, task: TaskRow): Promise<void> {
    const policy = policyFor(config, task.repo);
    const name = agentFor(policy, task.area, task.agent);
    if (name === "builtin") throw new Error("builtin tasks are developed in the dispatch pass");
    const run = await startRun(
      { ...this.ctx, config },
      task,
      harnessFor(name, policy, config),
      policy.agents,
    );
    this.live.set(run.runId, { ...run, repo: task.repo });
    void run.done.finally(() => this.live.delete(run.runId));
  }

  /** Stops every run going (the worker is stopping): their tasks go back to pending. */
  async stopAll(reason: string): Promise<void> {
    this.stopping = true;
    this.stopScoping.abort();
    const going = [...this.live.values()];
    for (const r of going) r.stop(reason);
    await Promise.all([...going, ...this.scoping.values()].map((r) => r.done));
  }
}

/**
 * Runs left live by a worker that died: each is marked `lost`, and its task — still claimed by
 * the dead worker's lease — goes back to pending at once rather than when the lease runs out.
 * Their processes died with the worker under bubblewrap (`--die-with-parent`); without it, a
 * process group still running with the task's id in its environment is killed.
 */
export async function recoverLostRuns(
  db: Db,
  isAlive: (owner: string) => Promise<boolean>,
): Promise<number> {
  const live = await db
    .select()
    .from(agentRuns)
    .where(inArray(agentRuns.state, [...liveRunStates]));
  const stale: typeof live = [];
  for (const r of live) if (!(await isAlive(r.owner))) stale.push(r);
  for (const r of stale) {
    if (r.pid) killIfOurs(r.pid, r.taskId);
    const reason = `its worker ${r.owner} stopped without finishing it; the task was requeued`;
    try {
      await db.transaction(async (tx) => {
        await moveRun(tx, { id: r.id, from: r.state, to: "lost", set: { reason } });
        const [task] = await tx.select().from(tasks).where(eq(tasks.id, r.taskId)).limit(1);
        if (
          task?.state === "claimed" &&
          task.leaseOwner === r.owner &&
          task.attempts === r.taskAttempt
        )
          await moveTask(tx, {
            id: r.taskId,
            from: "claimed",
            to: "pending",
            owner: r.owner,
            attempt: r.taskAttempt,
            set: { blockedReason: reason },
            event: { reason, data: { run: r.id } },
          });
      });
    } catch (err) {
      if (!(err instanceof TaskMoveConflict))
        log.warn({ run: r.id, err: (err as Error).message }, "lost run not recovered");
    }
  }
  return stale.length;
}

function killIfOurs(pid: number, taskId: string) {
  try {
    const env = fs.readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
    if (!env.includes(`HYPERION_TASK_ID=${taskId}`)) return;
    process.kill(-pid, "SIGKILL");
  } catch {
    // Gone, or not ours to see.
  }
}
