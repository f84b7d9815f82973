import fs from "node:fs";
import { and, eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import type { AgentPolicy } from "@/schemas/agents";
import { REASON_BRIEF, REASON_MAX } from "@/schemas/bounded";
import { agentRunEvents, agentRuns, events, runSteers, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatch/advance";
import { createRequests } from "@/server/requests/service";
import { AGENT_OWNER } from "@/test-support/agent-world";
import { dropRunsTmp, makeWorld, type TestWorld, useRunsTmp } from "@/test-support/fixtures";
import { AgentPool } from "./pool";

// Supervision that an agent's output cannot starve (issue 17): a `command` agent that prints
// short lines without end, through the whole harness (the pool, a sparse workspace, the
// sandbox, the run supervisor), against a real SQLite file and git repository. Every wait is
// on progress seen in the database, bounded generously; nothing is timed.

/** Short enough that renewals come every 2 s, so a test sees several while the agent floods. */
const LEASE_MS = 6000;

// Lines of two bytes, 32 768 to a write, for as long as the pipe takes them.
const FLOOD = `const b = "x\\n".repeat(32768); const out = () => { while (process.stdout.write(b)) {} }; process.stdout.on("drain", out); out();`;

let world: TestWorld;
let pool: AgentPool;
/** The runs' folders (and kept workspaces) are made here: os.tmpdir() reads TMPDIR. */
let runsTmp: string;

beforeEach(async () => {
  runsTmp = useRunsTmp("hyperion-flood-");
  world = await makeWorld();
  pool = new AgentPool({
    db: world.db,
    dataDir: world.env.dataDir,
    owner: AGENT_OWNER,
    leaseMs: LEASE_MS,
    tickMs: 50,
    stopStepMs: 200,
  });
});

afterEach(async () => {
  await pool.stopAll("test over");
  await world.cleanup();
  dropRunsTmp(runsTmp);
});

function setCommand(code: string, extra: Partial<AgentPolicy> = {}) {
  const repo = world.config.repositories[0];
  if (!repo?.policy) throw new Error("the demo has a policy");
  repo.policy.agents = {
    ...repo.policy.agents,
    default: "command",
    command: `node -e '${code}'`,
    ...extra,
  };
}

/** Files a request for `files`, probes, plans and dispatches it; returns its request and run. */
async function start(files = ["docs/guide.md"]): Promise<{ requestId: number; runId: number }> {
  const [r] = await createRequests(world.db, {
    input: { title: "Note the guide", description: "Add a line.", repo: "demo", files },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  await pool.probeAll(world.config);
  for (let i = 0; i < 2; i++)
    await advance(world.db, world.config, AGENT_OWNER, undefined, LEASE_MS, pool);
  const [runId] = pool.runs();
  if (!r || runId === undefined) throw new Error("no run was started");
  return { requestId: r.id, runId };
}

async function readRun(runId: number) {
  return (await world.db.select().from(agentRuns).where(eq(agentRuns.id, runId)).limit(1))[0];
}

async function readTask(taskId: string) {
  return (await world.db.select().from(tasks).where(eq(tasks.id, taskId)).limit(1))[0];
}

async function runEvents(runId: number): Promise<AgentEvent[]> {
  return (
    await world.db
      .select({ event: agentRunEvents.event })
      .from(agentRunEvents)
      .where(eq(agentRunEvents.runId, runId))
  ).map((r) => r.event);
}

async function dropSummaries(runId: number): Promise<string[]> {
  return (await runEvents(runId)).flatMap((e) =>
    e.kind === "error" && e.message.startsWith("dropped ") ? [e.message] : [],
  );
}

/** Polls until `check` holds (progress, not time, is what the test waits for), within a bound. */
async function until<T>(
  what: string,
  check: () => Promise<T | null | undefined | false>,
): Promise<T> {
  const bound = Date.now() + 90_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > bound) throw new Error(`never happened: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("an agent that floods its output", () => {
  it("keeps its lease renewed and its steering applied; events stay bounded and the flood is summarised", async () => {
    setCommand(FLOOD, { maxOutputBytes: 4 * 1024 ** 3, runTimeoutMs: 10 * 60_000 });
    const { runId } = await start();
    const run = await readRun(runId);
    const taskId = run?.taskId ?? "";

    // The flood is under way: lines are being dropped past the per-second cap.
    await until("a summary of dropped lines", async () => (await dropSummaries(runId)).length > 0);
    // The lease is renewed while it goes on (twice, so not only the tick that came first).
    for (let i = 0; i < 2; i++) {
      const before = (await readTask(taskId))?.leaseExpiresAt ?? 0;
      await until(
        "the lease renewed",
        async () => ((await readTask(taskId))?.leaseExpiresAt ?? 0) > before,
      );
    }
    expect((await readRun(runId))?.state).toBe("running");

    // A stop_and_requeue sent while it floods is applied.
    await world.db.insert(runSteers).values({
      runId,
      command: "stop_and_requeue",
      reason: "flooding",
      sourceEventId: "evt-flood",
      by: "op@example.test",
      createdAt: Date.now(),
    });
    await pool.idle();

    const ended = await readRun(runId);
    expect(ended).toMatchObject({ state: "stopped", reason: "stop_and_requeue: flooding" });
    expect((await readTask(taskId))?.state).toBe("pending");
    const [steer] = await world.db
      .select()
      .from(runSteers)
      .where(eq(runSteers.runId, runId))
      .limit(1);
    expect(steer?.appliedAt).not.toBeNull();
    expect(alive(ended?.pid ?? 0)).toBe(false);

    // Bounded: at most maxEventsPerSecond (200) stored in each second the run lasted, plus the
    // summaries, which come at most about once a second.
    const stored = await runEvents(runId);
    const summaries = await dropSummaries(runId);
    const seconds = Math.floor(((ended?.endedAt ?? 0) - (ended?.startedAt ?? 0)) / 1000) + 2;
    expect(summaries.length).toBeLessThanOrEqual(seconds + 1);
    expect(stored.length).toBeLessThanOrEqual(200 * seconds + summaries.length);
    for (const s of summaries)
      expect(s).toMatch(
        /^dropped \d+(\.\d)?( [kMG])? lines of output: more than 200 a second \(agents\.maxEventsPerSecond\)$/,
      );
    // Far more was printed than kept: at least one summary counts thousands of lines.
    expect(summaries.some((s) => / [kMG] lines/.test(s))).toBe(true);
  }, 180_000);

  it("past the run's event cap, the run fails and names the cap", async () => {
    setCommand(FLOOD, { maxOutputBytes: 4 * 1024 ** 3, maxEvents: 300 });
    const { runId } = await start();
    await pool.idle();
    const run = await readRun(runId);
    expect(run?.state).toBe("failed");
    expect(run?.reason).toBe("the agent printed more than 300 events (agents.maxEvents)");
    expect(await readTask(run?.taskId ?? "")).toMatchObject({
      state: "failed",
      blockedReason: "the agent printed more than 300 events (agents.maxEvents)",
    });
    expect(alive(run?.pid ?? 0)).toBe(false);
    // 300 events, and the summaries of what was dropped on the way (at most one a second, plus
    // the last one written as the session ended).
    const stored = await runEvents(runId);
    const summaries = (await dropSummaries(runId)).length;
    expect(stored.length - summaries).toBeLessThanOrEqual(300);
    expect(stored.length).toBeGreaterThanOrEqual(300);
  }, 180_000);
});

describe("the session a resume names", () => {
  it("is the first one the session reported: a later, forged one is stored but not adopted", async () => {
    // Reports its session, then a "forged" one (as a tool writing into its stdout could), then
    // edits its file and ends.
    const FORGE = `const fs = require("fs");
console.log(JSON.stringify({ kind: "session", sessionId: "real-session" }));
console.log(JSON.stringify({ kind: "message", text: "working" }));
console.log(JSON.stringify({ kind: "session", sessionId: "forged-session" }));
fs.appendFileSync("docs/guide.md", "agent line\\n");
console.log(JSON.stringify({ kind: "message", text: "done" }));`;
    setCommand(FORGE);
    const { runId } = await start();
    await pool.idle();
    const run = await readRun(runId);
    expect(run?.state).toBe("submitted");
    expect(run?.sessionId).toBe("real-session");
    const sessions = (await runEvents(runId)).filter((e) => e.kind === "session");
    expect(sessions).toEqual([
      { kind: "session", sessionId: "real-session" },
      { kind: "session", sessionId: "forged-session" },
    ]);
  }, 60_000);
});

// 100 000 files; FLOOD_FILES makes fewer (npm test, bin/test.mjs: 30 000), every bound the same
// and still far past it.
const FILES = Number(process.env.FLOOD_FILES ?? 100_000);

describe(`a run that writes ${FILES} files outside its task`, () => {
  it("fails with a bounded reason, stored bounded everywhere and in full once in the log", async () => {
    const MANY = `const fs = require("fs");
for (let d = 0; d < 100; d++) fs.mkdirSync("out/" + d, { recursive: true });
for (let i = 0; i < ${FILES}; i++) fs.writeFileSync("out/" + (i % 100) + "/f" + i, "");
console.log("wrote ${FILES} files");`;
    setCommand(MANY);
    const { requestId, runId } = await start();
    await pool.idle();
    const run = await readRun(runId);
    expect(run?.state).toBe("failed");
    const reason = run?.reason ?? "";
    const listed =
      /^the agent changed files outside its task: (.+) and ([\d ]+) more \(it may change only docs\/guide\.md\)$/.exec(
        reason,
      );
    expect(listed, reason.slice(0, 300)).not.toBeNull();
    const shown = (listed?.[1] ?? "").split(", ");
    const more = Number((listed?.[2] ?? "").replaceAll(" ", ""));
    expect(shown.length).toBeLessThanOrEqual(30);
    expect(shown.every((p) => p.startsWith("out/"))).toBe(true);
    expect(shown.length + more).toBe(FILES);
    expect(reason.length).toBeLessThanOrEqual(REASON_MAX);

    const task = await readTask(run?.taskId ?? "");
    expect(task?.state).toBe("failed");
    expect(task?.blockedReason).toBe(reason);

    // The events: every payload bounded; the full reason in one (the run's own run.failed); the
    // request's copy and the task's event carry its short form.
    const all = await world.db.select().from(events);
    for (const e of all) expect(JSON.stringify(e.payload).length).toBeLessThan(REASON_MAX + 500);
    const withReason = all.filter((e) =>
      JSON.stringify(e.payload).includes(JSON.stringify(reason)),
    );
    expect(withReason.map((e) => [e.topic, e.type])).toEqual([["run", "run.failed"]]);
    const [requestCopy] = await world.db
      .select()
      .from(events)
      .where(
        and(
          eq(events.topic, "request"),
          eq(events.type, "run.failed"),
          eq(events.entityId, requestId),
        ),
      )
      .limit(1);
    const brief = (requestCopy?.payload as { reason?: string } | undefined)?.reason ?? "";
    expect(brief.length).toBeGreaterThan(100);
    expect(brief.length).toBeLessThanOrEqual(REASON_BRIEF);
    expect(reason.startsWith(brief.slice(0, 100))).toBe(true);
    const taskFailed = all.find(
      (e) => e.type === "task.failed" && (e.payload as { task?: string }).task === task?.id,
    );
    const taskBrief = (taskFailed?.payload as { reason?: string } | undefined)?.reason ?? "";
    expect(taskBrief.length).toBeGreaterThan(0);
    expect(taskBrief.length).toBeLessThanOrEqual(REASON_BRIEF);
    // What it wrote is kept for inspection, as for any failed run.
    expect(fs.existsSync(`${run?.workspace}/work/out/0/f0`)).toBe(true);
  }, 300_000);
});
