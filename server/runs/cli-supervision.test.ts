import fs from "node:fs";
import path from "node:path";
import { and, eq } from "drizzle-orm";
import { execa, type ResultPromise } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import type { AgentPolicy, CliAgentName } from "@/schemas/agents";
import { cliAgentNames } from "@/schemas/agents";
import {
  agentRunEvents,
  agentRuns,
  changeRequests,
  events,
  queueEntries,
  runSteers,
  tasks,
} from "@/server/db/schema";
import { steerRun } from "@/server/runs/steers";
import { ownerAlive } from "@/server/workers/heartbeat";
import { agentWorld } from "@/test-support/agent-world";
import { dropRunsTmp, useRunsTmp } from "@/test-support/fixtures";
import {
  type ModelServer,
  type RecordedRequest,
  SCRIPTED_KEY_ENV,
  SCRIPTED_MODELS,
  type ScriptStep,
  startModelServer,
} from "@/test-support/model-server";

// Supervision of each real CLI (installed by bin/agent-clis.mjs) through the whole harness — the
// pool, a sparse workspace, bubblewrap, the run supervisor — against the scripted model server:
// the stall timeout, stop_and_requeue, failing checks resumed into the same session, and a
// worker SIGKILLed mid-run. "No process left" is checked exactly: every run folder is made under
// a temp folder of this test's own, so a process of a run is one whose command line, working
// directory or environment (HOME, TMPDIR) names that run's folder.

const MODELS: Record<CliAgentName, string> = SCRIPTED_MODELS;
const KEY_ENV = SCRIPTED_KEY_ENV;

let server: ModelServer | null = null;
/** This test's own temp folder: the runs' folders are made here (os.tmpdir() reads TMPDIR). */
let runsTmp: string;

const aw = agentWorld({
  stopStepMs: 300,
  setup: () => {
    runsTmp = useRunsTmp("hyperion-supervision-");
    process.env[KEY_ENV] = "scripted-key-not-a-secret";
  },
  teardown: async () => {
    await server?.close();
    server = null;
    dropRunsTmp(runsTmp);
  },
});

async function configure(
  agent: CliAgentName,
  script: ScriptStep[],
  agents: Partial<AgentPolicy> = {},
) {
  server = await startModelServer(script);
  aw.setAgents({ default: agent, ...agents });
  aw.world.config.agents = {
    [agent]: { endpoint: `${server.url}/v1`, model: MODELS[agent], apiKeyEnv: KEY_ENV },
  };
  const probes = await aw.pool.probeAll(aw.world.config);
  expect([...probes.values()][0]).toMatchObject({ ok: true });
  return server;
}

async function fileRequest(file = "docs/guide.md"): Promise<number> {
  return aw.fileRequest([file]);
}

/** One dispatch pass (the first plans the request, the next dispatches its task). */
const pass = () => aw.pass();

const taskOf = async (requestId: number) =>
  (await aw.world.db.select().from(tasks).where(eq(tasks.requestId, requestId)).limit(1))[0];
const runsOf = async (taskId: string) =>
  await aw.world.db
    .select()
    .from(agentRuns)
    .where(eq(agentRuns.taskId, taskId))
    .orderBy(agentRuns.id);

/** Polls `check` until it holds; the deadline only turns a hang into a failure that says what. */
async function until<T>(
  what: string,
  check: () => Promise<T | undefined | null | false>,
  ms = 60_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

type Proc = { pid: number; cmd: string };

/**
 * The live processes of a run: those whose command line, working directory or environment
 * names the run's folder (`<runsTmp>/hyperion-agent-<id>-…`). bubblewrap's own command line
 * binds it; every process the CLI starts inherits HOME and TMPDIR inside it. Zombies (dead,
 * waiting to be reaped) are not processes left running.
 */
function processesOfRun(runId: number, tmp = runsTmp): Proc[] {
  const mark = path.join(tmp, `hyperion-agent-${runId}-`);
  const out: Proc[] = [];
  for (const entry of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    const read = (f: string) => {
      try {
        return fs.readFileSync(`/proc/${pid}/${f}`, "latin1");
      } catch {
        return "";
      }
    };
    const stat = read("stat");
    if (!stat || /^\d+ \(.*\) Z/s.test(stat)) continue;
    let cwd = "";
    try {
      cwd = fs.readlinkSync(`/proc/${pid}/cwd`);
    } catch {
      cwd = "";
    }
    const cmd = read("cmdline").replaceAll("\0", " ").trim();
    if (cmd.includes(mark) || cwd.startsWith(mark) || read("environ").includes(mark))
      out.push({ pid, cmd: cmd.slice(0, 300) });
  }
  return out;
}

/** A promise with its resolve, to hold a model turn until the test lets it go. */
function barrier() {
  let open = () => {};
  const opened = new Promise<void>((r) => {
    open = r;
  });
  return { opened, open };
}

/** Rejects with what was awaited when it does not come in time (the test then fails saying so). */
function within<T>(what: string, p: Promise<T>, ms = 60_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms);
    }),
  ]);
}

const CHECK_SCRIPT = `const t = require("fs").readFileSync("docs/guide.md", "utf8");
if (!t.includes("MARKER-2")) { console.log("docs/guide.md lacks MARKER-2"); process.exit(1); }`;

for (const agent of cliAgentNames) {
  describe(`${agent}, the real CLI, supervised`, () => {
    it("a hang is stopped by the stall timeout, with no process of the run left", {
      timeout: 90_000,
    }, async () => {
      let atHang: Proc[] = [];
      let runId = 0;
      const repo = aw.world.config.repositories[0];
      await configure(agent, [
        // A process the agent detaches from its own process group and session.
        { shell: "(setsid sleep 600 > /dev/null 2>&1 &); echo started" },
        () => {
          // The stall timeout is lowered to its least only now the model hangs: a CLI's start
          // (Copilot prints nothing for a second or more on a busy machine) must not be what trips it.
          if (repo?.policy) repo.policy.agents.stallTimeoutMs = 1000;
          atHang = processesOfRun(runId);
          return { hang: true };
        },
      ]);
      const request = await fileRequest();
      await pass();
      await pass();
      [runId = 0] = aw.pool.runs();
      expect(runId).toBeGreaterThan(0);
      await aw.pool.idle();
      const task = await taskOf(request);
      const [run] = await runsOf(task?.id ?? "");
      expect(run, run?.reason ?? "").toMatchObject({ id: runId, agent, state: "failed" });
      expect(run?.reason).toMatch(/^stalled: no agent event for 1 s/);
      expect(task?.state).toBe("failed");
      // While it hung, the run had processes — the CLI and the one it detached — and the scan saw them…
      expect(atHang.map((p) => p.cmd)).toContain("sleep 600");
      expect(atHang.some((p) => p.pid === run?.pid)).toBe(true);
      // …and once it ended, none is left: not the CLI, not bubblewrap, not the detached sleep.
      expect(processesOfRun(runId)).toEqual([]);
    });

    it("stop_and_requeue sent mid-turn stops the run; the task completes on its second run", {
      timeout: 120_000,
    }, async () => {
      const hold = barrier();
      const s = await configure(agent, [
        // The first run's first model turn is held until the run has been stopped.
        async () => {
          await hold.opened;
          return { text: "Too late: this run was stopped." };
        },
        { shell: "printf 'second run line\\n' >> docs/guide.md" },
        { text: "Added a line to the guide." },
      ]);
      const request = await fileRequest();
      await pass();
      await pass();
      const [first = 0] = aw.pool.runs();
      await within("the first run's model request", s.waitForRequest(1));
      const { repeated } = await steerRun(aw.world.db, first, aw.world.admin, {
        command: "stop_and_requeue",
        reason: "wrong approach",
        sourceEventId: "evt-requeue-1",
      });
      expect(repeated).toBe(false);
      await until("the first run to stop", async () => {
        const r = (await runsOf((await taskOf(request))?.id ?? ""))[0];
        return r?.state === "stopped" && r;
      });
      await aw.pool.idle();
      hold.open();
      expect(processesOfRun(first)).toEqual([]);
      expect((await taskOf(request))?.state).toBe("pending");
      // The task goes to its second run on the next dispatch pass.
      await pass();
      const [second = 0] = aw.pool.runs();
      expect(second).toBeGreaterThan(first);
      await aw.pool.idle();
      const task = await taskOf(request);
      const runs = await runsOf(task?.id ?? "");
      expect(runs.map((r) => r.state)).toEqual(["stopped", "submitted"]);
      expect(runs[0]).toMatchObject({ id: first, reason: "stop_and_requeue: wrong approach" });
      expect(runs[1], runs[1]?.reason ?? "").toMatchObject({ id: second, agent });
      expect(task?.state).toBe("submitted");
      const [change] = await aw.world.db
        .select()
        .from(changeRequests)
        .where(eq(changeRequests.id, runs[1]?.changeRequestId ?? 0))
        .limit(1);
      expect(change).toMatchObject({ runId: second, taskId: task?.id });
      expect(change?.patch).toContain("+second run line");
      const [entry] = await aw.world.db
        .select()
        .from(queueEntries)
        .where(eq(queueEntries.changeRequestId, change?.id ?? 0))
        .limit(1);
      expect(entry?.state).toBe("queued");
      // The steer was applied once, and said what it did.
      const steers = await aw.world.db.select().from(runSteers).where(eq(runSteers.runId, first));
      expect(steers).toHaveLength(1);
      expect(steers[0]?.appliedAt).not.toBeNull();
      expect(processesOfRun(second)).toEqual([]);
    });

    it("failing acceptance checks are resumed into the same session, then pass", {
      timeout: 120_000,
    }, async () => {
      const repo = aw.world.config.repositories[0];
      if (!repo?.policy) throw new Error("the demo has a policy");
      // A check that passes only once the guide holds the marker the agent writes on its second turn.
      repo.policy.checks.marker = `node -e '${CHECK_SCRIPT}'`;
      repo.policy.validation.byArea.docs = { lint: [], test: ["marker"] };
      let resumed: RecordedRequest | null = null;
      const s = await configure(
        agent,
        [
          { shell: "printf 'first try\\n' >> docs/guide.md" },
          { text: "Added a line." },
          (req) => {
            resumed = req;
            return { shell: "printf 'MARKER-2\\n' >> docs/guide.md" };
          },
          { text: "Added the marker." },
        ],
        { attempts: 2 },
      );
      const request = await fileRequest();
      await pass();
      await pass();
      await aw.pool.idle();
      const task = await taskOf(request);
      const [run, ...others] = await runsOf(task?.id ?? "");
      expect(others).toEqual([]);
      expect(run, run?.reason ?? "").toMatchObject({ agent, state: "submitted", sessions: 2 });
      expect(task?.state).toBe("submitted");
      // The resumed session's first model request carries the check's failure output, and the
      // conversation so far (the first turn's command): the same session, not a new one.
      expect(s.requests.filter((r) => r.protocol).length).toBe(4);
      const body = JSON.stringify((resumed as RecordedRequest | null)?.body ?? "");
      expect(body).toContain("Check 'marker' failed");
      expect(body).toContain("docs/guide.md lacks MARKER-2");
      expect(body).toContain("first try");
      const sessions = (
        await aw.world.db
          .select()
          .from(agentRunEvents)
          .where(eq(agentRunEvents.runId, run?.id ?? 0))
      ).flatMap((e) => (e.event.kind === "session" ? [e.event.sessionId] : []));
      expect(sessions.length).toBeGreaterThanOrEqual(2);
      expect(new Set(sessions)).toEqual(new Set([run?.sessionId]));
      const [change] = await aw.world.db
        .select()
        .from(changeRequests)
        .where(eq(changeRequests.id, run?.changeRequestId ?? 0))
        .limit(1);
      expect(change?.patch).toContain("+first try");
      expect(change?.patch).toContain("+MARKER-2");
      expect(processesOfRun(run?.id ?? 0)).toEqual([]);
    });
  });
}

// One CLI for the worker process test (each worker start compiles the sources through tsx: a
// few seconds): Claude Code, whose tool commands run in process groups of their own.
const WORKER_AGENT: CliAgentName = "claude";
const BIN = path.resolve("bin/hyperion.mjs");

describe(`a worker SIGKILLed mid-run (${WORKER_AGENT})`, () => {
  const workers = new Set<ResultPromise>();
  afterEach(async () => {
    for (const w of workers) {
      w.kill("SIGKILL");
      await w.catch(() => undefined);
    }
    workers.clear();
  });

  it("requeues its task through the next worker's recovery, and leaves no process of the run", {
    timeout: 120_000,
  }, async () => {
    let atHang: Proc[] = [];
    server = await startModelServer([
      // A process the agent detaches from its own process group and session, then a model turn
      // that never answers: the run is busy when its worker is killed.
      { shell: "(setsid sleep 600 > /dev/null 2>&1 &); echo started" },
      async () => {
        // The run is the worker's: its id is read from the database it shares.
        atHang = processesOfRun((await runsOf((await taskOf(request))?.id ?? ""))[0]?.id ?? 0);
        return { hang: true };
      },
      // The task's second run, on the next worker.
      { shell: "printf 'after recovery\\n' >> docs/guide.md" },
      { text: "Added a line to the guide." },
    ]);
    // The worker reads its config from the data directory: the demo's policy gives tasks to the
    // CLI, pointed at the scripted server.
    const config = JSON.parse(fs.readFileSync(aw.world.env.configPath, "utf8"));
    config.repositories[0].policy.agents = { default: WORKER_AGENT };
    config.agents = {
      [WORKER_AGENT]: {
        endpoint: `${server.url}/v1`,
        model: MODELS[WORKER_AGENT],
        apiKeyEnv: KEY_ENV,
      },
    };
    fs.writeFileSync(aw.world.env.configPath, JSON.stringify(config, null, 2));
    const request = await fileRequest();
    const startWorker = () => {
      const child = execa("node", [BIN, "worker"], {
        env: {
          HYPERION_DATA: aw.world.dir,
          // The runs' folders go under this test's own temp folder (see processesOfRun).
          TMPDIR: runsTmp,
          [KEY_ENV]: "scripted-key-not-a-secret",
          HYPERION_DISPATCH_MS: "50",
          HYPERION_POLL_MS: "50",
          // Long: only the next worker's recovery, not the lease running out, requeues the task.
          HYPERION_TASK_LEASE_MS: "600000",
        },
        reject: false,
        // execa would SIGKILL 5 s after a SIGTERM; a worker on a busy machine may take longer.
        forceKillAfterDelay: 60_000,
      });
      workers.add(child);
      return child;
    };
    const exitedEarly = (w: ResultPromise) => {
      let out: string | null = null;
      void w.then((r) => {
        out = `the worker exited (${r.exitCode ?? r.signal}):\n${String(r.stderr).slice(-3000)}`;
      });
      return () => out;
    };

    const first = startWorker();
    const firstExit = exitedEarly(first);
    const run = await until(
      "the run to be running with its model turn hanging",
      async () => {
        const e = firstExit();
        if (e) throw new Error(e);
        const r = (await runsOf((await taskOf(request))?.id ?? ""))[0];
        return (
          r?.state === "running" && server?.requests.filter((q) => q.protocol).length === 2 && r
        );
      },
      90_000,
    );
    // The scan saw the run's processes while it hung: bubblewrap, the CLI, the detached sleep.
    expect(atHang.map((p) => p.cmd)).toContain("sleep 600");
    expect(atHang.some((p) => p.pid === run.pid)).toBe(true);

    first.kill("SIGKILL");
    expect((await first).signal).toBe("SIGKILL");
    workers.delete(first);
    // The run is still `running` in the database: nobody has noticed yet.
    expect((await runsOf(run.taskId))[0]?.state).toBe("running");
    // The next worker finds the dead one's runs at its start, once the dead one's heartbeat is
    // old enough not to count as alive.
    await until(
      "the killed worker to stop counting as alive",
      async () => !(await ownerAlive(aw.world.db, run.owner)),
      30_000,
    );

    const second = startWorker();
    const secondExit = exitedEarly(second);
    const lost = await until(
      "the run to be marked lost",
      async () => {
        const e = secondExit();
        if (e) throw new Error(e);
        const r = (await runsOf(run.taskId))[0];
        return r?.state === "lost" && r;
      },
      60_000,
    );
    expect(lost.reason).toMatch(
      /its worker .* stopped without finishing it; the task was requeued/,
    );
    // Nothing of the run is left: bubblewrap's --die-with-parent took its whole pid namespace
    // down with the worker (the recovery's own kill finds no process to kill).
    expect(processesOfRun(run.id)).toEqual([]);
    // Its task went back to pending by the recovery (not by its lease running out)…
    const requeued = (
      await aw.world.db
        .select({ payload: events.payload })
        .from(events)
        .where(and(eq(events.type, "task.pending"), eq(events.entityId, request)))
    ).map((e) => e.payload);
    expect(requeued).toContainEqual(
      expect.objectContaining({ task: run.taskId, from: "claimed", run: run.id }),
    );
    // …and its second run, on the new worker, makes the change.
    const again = await until(
      "the task's second run to end",
      async () => {
        const e = secondExit();
        if (e) throw new Error(e);
        const r = (await runsOf(run.taskId))[1];
        return r && !["starting", "running", "checking"].includes(r.state) && r;
      },
      90_000,
    );
    expect(again, again.reason ?? "").toMatchObject({ agent: WORKER_AGENT, state: "submitted" });
    expect(again.taskAttempt).toBeGreaterThan(run.taskAttempt);
    expect(["submitted", "done"]).toContain((await taskOf(request))?.state);
    const [change] = await aw.world.db
      .select()
      .from(changeRequests)
      .where(eq(changeRequests.id, again.changeRequestId ?? 0))
      .limit(1);
    expect(change?.patch).toContain("+after recovery");
    expect(processesOfRun(again.id)).toEqual([]);

    second.kill("SIGTERM");
    const stopped = await second;
    workers.delete(second);
    expect(
      { exitCode: stopped.exitCode, signal: stopped.signal },
      String(stopped.stderr).slice(-2000),
    ).toEqual({ exitCode: 0, signal: undefined });
    expect(processesOfRun(run.id)).toEqual([]);
    expect(processesOfRun(again.id)).toEqual([]);
  });
});
