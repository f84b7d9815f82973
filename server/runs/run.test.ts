import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { AgentPolicy } from "@/schemas/agents";
import { bindDirProblem } from "@/server/confine/binds";
import { detectSandbox } from "@/server/confine/detect";
import {
  agentRunEvents,
  agentRuns,
  changeRequests,
  requests,
  runSteers,
  tasks,
} from "@/server/db/schema";
import { currentEnv } from "@/server/env.mjs";
import { shownTo } from "@/server/redact";
import { rerunRequest } from "@/server/requests/rerun";
import { claimNext } from "@/server/state/queue/claim";
import { defaultQueueOptions, transition } from "@/server/state/queue/store";
import { runDetail } from "@/server/views/runs";
import { type AgentWorld, agentWorld } from "@/test-support/agent-world";
import { tempDir } from "@/test-support/fixtures";
import { harnessFor, recoverLostRuns } from "./pool";

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
    const [change] = await aw.world.db
      .select()
      .from(changeRequests)
      .where(eq(changeRequests.id, run?.changeRequestId ?? 0))
      .limit(1);
    expect(change?.patch).toContain("+agent line");
    expect(change?.authorEmail).toBe("command@agents.hyperion.local");
    // The change names the run that made it.
    expect(change?.runId).toBe(run?.id);
    const events = (
      await aw.world.db
        .select()
        .from(agentRunEvents)
        .where(eq(agentRunEvents.runId, run?.id ?? 0))
    ).map((e) => e.event);
    expect(events).toContainEqual({ kind: "message", text: "edited docs/guide.md" });
    // The prompt file is kept as an artifact, and names the rule.
    const prompt = fs.readFileSync(run?.promptPath ?? "", "utf8");
    expect(prompt).toContain("Only these files may change.");
    expect(prompt).toContain("- docs/guide.md");
    // A finished run's workspace is removed.
    expect(run?.workspace).toBeNull();

    // The run ends at "submitted"; its page follows the change on to the end: the change's
    // moves are the run's events too, and the detail's timeline and entry say it merged.
    const entry = await claimNext(aw.world.db, "w1", defaultQueueOptions);
    if (!entry) throw new Error("nothing queued");
    await transition(aw.world.db, entry, {
      from: "applying",
      to: "merged",
      owner: "w1",
      mergedCommit: "c0ffee",
    });
    const detail = await runDetail(aw.world.db, run?.id ?? 0);
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
    const [firstAfter] = await aw.world.db
      .select()
      .from(agentRuns)
      .where(eq(agentRuns.id, first.run?.id ?? 0))
      .limit(1);
    expect(firstAfter?.workspace).toBeNull();
    expect(fs.existsSync(kept)).toBe(false);
  });

  it("an agent that ends cleanly with no change concludes the task needs none: done, its reason kept", async () => {
    aw.setCommand(SILENT);
    const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run).toMatchObject({ state: "no_change", reason: "nothing to do", workspace: null });
    expect(task).toMatchObject({ state: "done", noChangeReason: "nothing to do" });
    expect(task?.blockedReason).toBeNull();
    // The request settles done: nothing failed.
    await aw.pass();
    expect(await requestStatus(task?.requestId ?? 0)).toBe("done");
  });

  it("keeps the last lines of the agent's stderr on its run, quotes the error in the task's reason, and redacts server paths for a requester", async () => {
    const NOISY = `for (let i = 0; i < 30; i++) console.error("noise " + i);
console.error("Error: Cannot find module " + JSON.stringify(process.cwd() + "/tools/agent.mjs"));
console.error("    at Module._load (node:internal/modules/cjs/loader:1051:27)");
process.exit(1);`;
    aw.setCommand(NOISY);
    const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run?.state).toBe("failed");
    const lines = (run?.stderrTail ?? "").split("\n");
    expect(lines).toHaveLength(20);
    expect(lines[0]).toBe("noise 12");
    expect(lines.at(-2)).toMatch(/^Error: Cannot find module ".*\/tools\/agent\.mjs"$/);
    expect(task?.blockedReason).toMatch(
      /the agent failed: exited with code 1; its stderr says: Error: Cannot find module ".*\/tools\/agent\.mjs"/,
    );
    // The run page's detail, as a requester reads it: the workspace path is not shown.
    const requester = await aw.world.userWith("requester");
    const shown = shownTo(
      { user: requester, env: aw.world.env },
      await runDetail(aw.world.db, run?.id ?? 0),
    );
    expect(shown?.run.stderrTail).toContain('Error: Cannot find module "<server path>"');
    expect(shown?.run.stderrTail).not.toContain(aw.world.dir);
    // An admin sees it as it was.
    const asAdmin = shownTo(
      { user: aw.world.admin, env: aw.world.env },
      await runDetail(aw.world.db, run?.id ?? 0),
    );
    expect(asAdmin?.run.stderrTail).toMatch(/tools\/agent\.mjs/);
  });

  it("an agent that fails having changed nothing still fails its task", async () => {
    aw.setCommand(`console.log("cannot"); process.exit(3);`);
    const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run?.state).toBe("failed");
    expect(run?.reason).toMatch(/the agent failed: exited with code 3/);
    expect(task?.state).toBe("failed");
  });

  it("with agents.noChange 'fail' no change fails the request; a rerun under 'done' then succeeds", async () => {
    aw.setCommand(SILENT, { noChange: "fail" });
    const failed = await aw.fileAndRun(["docs/guide.md"]);
    expect(failed.run?.reason).toMatch(/made no change; its last message: nothing to do/);
    expect(failed.task?.state).toBe("failed");
    await aw.pass();
    const requestId = failed.task?.requestId ?? 0;
    expect(await requestStatus(requestId)).toBe("failed");

    aw.setCommand(SILENT, { noChange: "done" });
    await rerunRequest(aw.world.db, requestId, aw.world.admin);
    await aw.pool.probeAll(aw.world.config);
    await aw.pass();
    await aw.pool.idle();
    await aw.pass();
    const [task] = await aw.world.db
      .select()
      .from(tasks)
      .where(eq(tasks.requestId, requestId))
      .limit(1);
    expect(task).toMatchObject({ state: "done", noChangeReason: "nothing to do" });
    expect(await requestStatus(requestId)).toBe("done");
  });

  it("with noChange 'fail' and fallback 'builtin', the built-in developer takes a no-change task over", async () => {
    aw.setCommand(SILENT, { fallback: "builtin", noChange: "fail" });
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
    await aw.fileRequest(["docs/guide.md"], { title: "Hang", description: "" });
    await aw.pool.probeAll(aw.world.config);
    await aw.dispatch();
    const [runId] = aw.pool.runs();
    for (let i = 0; i < 2; i++)
      await aw.world.db
        .insert(runSteers)
        .values({
          runId: runId ?? 0,
          command: "stop_and_requeue",
          reason: "wrong approach",
          sourceEventId: "evt-1",
          by: "op@example.test",
          createdAt: Date.now(),
        })
        .onConflictDoNothing();
    await aw.pool.idle();
    const [run] = await aw.world.db
      .select()
      .from(agentRuns)
      .where(eq(agentRuns.id, runId ?? 0))
      .limit(1);
    expect(run).toMatchObject({ state: "stopped", reason: "stop_and_requeue: wrong approach" });
    expect(await aw.world.db.select().from(runSteers)).toHaveLength(1);
    const [task] = await aw.world.db
      .select()
      .from(tasks)
      .where(eq(tasks.id, run?.taskId ?? ""))
      .limit(1);
    expect(task?.state).toBe("pending");
  });

  it("runs a dead worker left are marked lost and their tasks requeued", async () => {
    aw.setCommand(HANG);
    await aw.fileRequest(["docs/guide.md"], { title: "Hang", description: "" });
    await aw.pool.probeAll(aw.world.config);
    await aw.dispatch();
    const [runId] = aw.pool.runs();
    // Another worker starts and finds this one dead (its heartbeat never beat).
    expect(await recoverLostRuns(aw.world.db, async () => false)).toBe(1);
    const [run] = await aw.world.db
      .select()
      .from(agentRuns)
      .where(eq(agentRuns.id, runId ?? 0))
      .limit(1);
    expect(run?.state).toBe("lost");
    const [task] = await aw.world.db
      .select()
      .from(tasks)
      .where(eq(tasks.id, run?.taskId ?? ""))
      .limit(1);
    expect(task?.state).toBe("pending");
  });
});

async function requestStatus(id: number) {
  return (await aw.world.db.select().from(requests).where(eq(requests.id, id)).limit(1))[0]?.status;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("a command agent whose script lives outside the workspace (agents.commandDirs)", () => {
  let tools = "";
  beforeEach(() => {
    tools = tempDir("hyperion-agent-tools-");
    fs.chmodSync(tools, 0o755);
    const script = `const fs = require("node:fs");
const prompt = fs.readFileSync(process.argv[2], "utf8");
const files = [...prompt.split("## Files you may change")[1].split("##")[0].matchAll(/^- (.+)$/gm)].map((m) => m[1]);
for (const f of files) fs.appendFileSync(f, "from the tools folder\\n");
console.log("edited " + files.join(", "));
`;
    fs.writeFileSync(path.join(tools, "agent.cjs"), script, { mode: 0o644 });
  });
  afterEach(() => fs.rmSync(tools, { recursive: true, force: true }));

  it.runIf(detectSandbox().kind === "bwrap")(
    "without the bind the sandbox cannot see it, and the failure says so",
    async () => {
      aw.setAgents({ default: "command", command: `node ${tools}/agent.cjs` });
      const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
      expect(run?.state).toBe("failed");
      expect(run?.stderrTail).toContain("Cannot find module");
      expect(task?.blockedReason).toMatch(/its stderr says: Error: Cannot find module/);
    },
  );

  it("with the folder bound read-only the agent runs the script from there", async () => {
    aw.setAgents({
      default: "command",
      command: `node ${tools}/agent.cjs`,
      commandDirs: [tools],
    });
    const { task, run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run?.state).toBe("submitted");
    expect(task?.state).toBe("submitted");
    const [change] = await aw.world.db
      .select()
      .from(changeRequests)
      .where(eq(changeRequests.id, run?.changeRequestId ?? 0))
      .limit(1);
    expect(change?.patch).toContain("+from the tools folder");
  });

  it.runIf(detectSandbox().kind === "bwrap")("the bound folder is read-only", async () => {
    aw.setAgents({
      default: "command",
      command: `node -e 'require("fs").writeFileSync(process.argv[1].replace(/[^/]*$/, "") + "x", "x")' ${tools}/agent.cjs`,
      commandDirs: [tools],
    });
    // The script path is the first argument; the prompt file comes last.
    const { run } = await aw.fileAndRun(["docs/guide.md"]);
    expect(run?.state).toBe("failed");
    expect(run?.stderrTail).toMatch(/EROFS|read-only/);
    expect(fs.existsSync(path.join(tools, "x"))).toBe(false);
  });

  it("a folder that is missing, or holds Hyperion's own files, is refused: the task waits with the reason", async () => {
    for (const [dir, why] of [
      [path.join(tools, "missing"), /agents\.commandDirs\[0\] .*missing: does not exist/],
      // Hyperion's own checkout, which runs never see.
      [
        path.join(currentEnv().rootDir, "server"),
        /agents\.commandDirs\[0\] .*would show runs Hyperion's own files/,
      ],
      ["/etc", /agents\.commandDirs\[0\] \/etc: is a system place/],
    ] as const) {
      expect(bindDirProblem(dir)).toBeDefined();
      aw.setAgents({ default: "command", command: `node ${tools}/agent.cjs`, commandDirs: [dir] });
      const probe = await harnessFor("command", policyOf(aw), aw.world.config).probe();
      expect(probe).toMatchObject({ ok: false, problem: expect.stringMatching(why) });
    }
    aw.setAgents({ commandDirs: [path.join(tools, "missing")] });
    const requestId = await aw.fileRequest(["docs/guide.md"]);
    await aw.pool.probeAll(aw.world.config);
    await aw.dispatch();
    const { task, run } = await aw.readBack(requestId);
    expect(run).toBeUndefined();
    expect(task?.state).toBe("pending");
    expect(task?.blockedReason).toMatch(/agents\.commandDirs\[0\]/);
  });

  it("the policy refuses a relative path, '..', a NUL byte and / by their key", () => {
    for (const [dir, message] of [
      ["tools", /must be an absolute path/],
      ["/opt/../etc", /must not contain '\.\.'/],
      ["/opt/a\u0000b", /NUL/],
      ["/", /not \//],
    ] as const) {
      const parsed = AgentPolicy.safeParse({ commandDirs: [dir] });
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.path).toEqual(["commandDirs", 0]);
      expect(parsed.error?.issues[0]?.message).toMatch(message);
    }
  });
});

function policyOf(w: AgentWorld) {
  const policy = w.world.config.repositories[0]?.policy;
  if (!policy) throw new Error("the demo has a policy");
  return policy;
}
