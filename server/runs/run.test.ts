import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { agentRunEvents, agentRuns, changeRequests, runSteers, tasks } from "@/server/db/schema";
import { claimNext } from "@/server/state/queue/claim";
import { defaultQueueOptions, transition } from "@/server/state/queue/store";
import { runDetail } from "@/server/views/runs";
import { agentWorld } from "@/test-support/agent-world";
import { recoverLostRuns } from "./pool";

// The `command` agent under test: a few lines of Node given with -e (the policy's command line
// is split into arguments, never given to a shell). It reads the prompt file, whose path is its
// last argument, and appends a line to each file the task may change.
const EDIT = `const fs = require("fs"); const p = fs.readFileSync(process.argv[1], "utf8");
const files = [...p.split("## Files you may change")[1].split("##")[0].matchAll(/^- (.+)$/gm)].map((m) => m[1]);
for (const f of files) { fs.mkdirSync(require("path").dirname(f), { recursive: true }); fs.appendFileSync(f, "agent line\\n"); }
console.log(JSON.stringify({ kind: "message", text: "edited " + files.join(", ") }));`;
const OUTSIDE = `require("fs").writeFileSync("stray.txt", "x"); console.log("wrote stray.txt");`;
const HANG = `console.log("thinking"); setInterval(() => {}, 1000);`;
const SILENT = `console.log("nothing to do");`;

const aw = agentWorld();

describe("a command agent's run", () => {
  it("edits its task's files in a workspace; the change is queued with the task submitted", async () => {
    aw.setCommand(EDIT);
    const { started, task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(started).toHaveLength(1);
    expect(run).toMatchObject({ agent: "command", state: "submitted", sessions: 1 });
    expect(task).toMatchObject({ state: "submitted", changeRequestId: run?.changeRequestId });
    const change = aw.world.db
      .select()
      .from(changeRequests)
      .where(eq(changeRequests.id, run?.changeRequestId ?? 0))
      .get();
    expect(change?.patch).toContain("+agent line");
    expect(change?.authorEmail).toBe("command@agents.hyperion.local");
    // The change names the run that made it.
    expect(change?.runId).toBe(run?.id);
    const events = aw.world.db
      .select()
      .from(agentRunEvents)
      .where(eq(agentRunEvents.runId, run?.id ?? 0))
      .all()
      .map((e) => e.event);
    expect(events).toContainEqual({ kind: "message", text: "edited docs/guide.md" });
    // The prompt file is kept as an artifact, and names the rule.
    const prompt = fs.readFileSync(run?.promptPath ?? "", "utf8");
    expect(prompt).toContain("Only these files may change.");
    expect(prompt).toContain("- docs/guide.md");
    // A finished run's workspace is removed.
    expect(run?.workspace).toBeNull();

    // The run ends at "submitted"; its page follows the change on to the end: the change's
    // moves are the run's events too, and the detail's timeline and entry say it merged.
    const entry = claimNext(aw.world.db, "w1", defaultQueueOptions);
    if (!entry) throw new Error("nothing queued");
    transition(aw.world.db, entry, {
      from: "applying",
      to: "merged",
      owner: "w1",
      mergedCommit: "c0ffee",
    });
    const detail = runDetail(aw.world.db, run?.id ?? 0);
    expect(detail?.entry).toMatchObject({ state: "merged", mergedCommit: "c0ffee" });
    expect(detail?.moves.map((m) => `${m.type} ${m.to}`)).toEqual([
      "run.starting starting",
      "run.running running",
      "run.submitted submitted",
      "change.merged merged",
    ]);
  });

  it("a write outside the task's files fails the run and names the path", async () => {
    aw.setCommand(OUTSIDE);
    const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run?.state).toBe("failed");
    expect(run?.reason).toMatch(/outside its task: stray\.txt/);
    expect(task?.state).toBe("failed");
    expect(task?.blockedReason).toMatch(/stray\.txt/);
    // A failed run's workspace is kept for inspection.
    expect(fs.existsSync(path.join(run?.workspace ?? "", "work", "stray.txt"))).toBe(true);
  });

  it("an agent that prints without end is stopped at maxOutputBytes and fails", async () => {
    // Lines of 64 KiB, and one endless line: neither is held in memory past the limits.
    const FLOOD = `const s = "x".repeat(65536); const out = () => { while (process.stdout.write(s)) {} }; process.stdout.on("drain", out); out();`;
    aw.setCommand(FLOOD, { maxOutputBytes: 4 * 1024 * 1024 });
    const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run?.state).toBe("failed");
    expect(run?.reason).toMatch(
      /printed more than 4194304 bytes of output \(agents\.maxOutputBytes\)/,
    );
    expect(task?.state).toBe("failed");
    expect(alive(run?.pid ?? 0)).toBe(false);
  });

  it("keeps only the newest failed workspaces (keepFailedWorkspaces)", async () => {
    aw.setCommand(OUTSIDE, { keepFailedWorkspaces: 1 });
    const first = await aw.fileAndRun(["docs/guide.md"]);
    const kept = first.run?.workspace ?? "";
    expect(fs.existsSync(kept)).toBe(true);
    const second = await aw.fileAndRun(["docs/a.md"]);
    expect(fs.existsSync(second.run?.workspace ?? "")).toBe(true);
    const firstAfter = aw.world.db
      .select()
      .from(agentRuns)
      .where(eq(agentRuns.id, first.run?.id ?? 0))
      .get();
    expect(firstAfter?.workspace).toBeNull();
    expect(fs.existsSync(kept)).toBe(false);
  });

  it("no change fails the task with the agent's last message, or hands it to the built-in developer", async () => {
    aw.setCommand(SILENT);
    const failed = await aw.fileAndRun(["docs/guide.md"]);
    expect(failed.run?.reason).toMatch(/made no change; its last message: nothing to do/);

    aw.setCommand(SILENT, { fallback: "builtin" });
    const rescued = await aw.fileAndRun(["docs/a.md"]);
    expect(rescued.run).toMatchObject({ state: "failed", fallback: "builtin" });
    expect(rescued.task?.state).toBe("submitted");
  });

  it("a run that goes silent is stopped by the stall timeout, with no process left", async () => {
    aw.setCommand(HANG, { stallTimeoutMs: 1000 });
    const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run?.state).toBe("failed");
    expect(run?.reason).toMatch(/stalled: no agent event for 1 s/);
    expect(task?.state).toBe("failed");
    expect(alive(run?.pid ?? 0)).toBe(false);
  });

  it("stop_and_requeue stops the run and puts its task back; the same source event twice acts once", async () => {
    aw.setCommand(HANG);
    aw.fileRequest(["docs/guide.md"], { title: "Hang", description: "" });
    await aw.pool.probeAll(aw.world.config);
    await aw.dispatch();
    const [runId] = aw.pool.runs();
    for (let i = 0; i < 2; i++)
      aw.world.db
        .insert(runSteers)
        .values({
          runId: runId ?? 0,
          command: "stop_and_requeue",
          reason: "wrong approach",
          sourceEventId: "evt-1",
          by: "op@example.test",
          createdAt: Date.now(),
        })
        .onConflictDoNothing()
        .run();
    await aw.pool.idle();
    const run = aw.world.db
      .select()
      .from(agentRuns)
      .where(eq(agentRuns.id, runId ?? 0))
      .get();
    expect(run).toMatchObject({ state: "stopped", reason: "stop_and_requeue: wrong approach" });
    expect(aw.world.db.select().from(runSteers).all()).toHaveLength(1);
    const task = aw.world.db
      .select()
      .from(tasks)
      .where(eq(tasks.id, run?.taskId ?? ""))
      .get();
    expect(task?.state).toBe("pending");
  });

  it("runs a dead worker left are marked lost and their tasks requeued", async () => {
    aw.setCommand(HANG);
    aw.fileRequest(["docs/guide.md"], { title: "Hang", description: "" });
    await aw.pool.probeAll(aw.world.config);
    await aw.dispatch();
    const [runId] = aw.pool.runs();
    // Another worker starts and finds this one dead (its heartbeat never beat).
    expect(recoverLostRuns(aw.world.db, () => false)).toBe(1);
    const run = aw.world.db
      .select()
      .from(agentRuns)
      .where(eq(agentRuns.id, runId ?? 0))
      .get();
    expect(run?.state).toBe("lost");
    const task = aw.world.db
      .select()
      .from(tasks)
      .where(eq(tasks.id, run?.taskId ?? ""))
      .get();
    expect(task?.state).toBe("pending");
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
