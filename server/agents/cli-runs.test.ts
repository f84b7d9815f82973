import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type CliAgentName, cliAgentNames } from "@/schemas/agents";
import { agentRuns, changeRequests, tasks } from "@/server/db/schema";
import { advance } from "@/server/dispatcher/advance";
import { git } from "@/server/git/run";
import { createRequests } from "@/server/requests/service";
import { makeWorld, type TestWorld } from "@/server/testing/fixtures";
import { type ModelServer, type ScriptStep, startModelServer } from "@/server/testing/model-server";
import { cliExecutable } from "./cli";
import { AgentPool } from "./pool";

// Each real CLI (installed by bin/agent-clis.mjs) given a task through the whole harness — the
// worker's pool, a sparse workspace, bubblewrap, the run supervisor — against the scripted model
// server, on a real data directory, SQLite file and git repository.

const MODELS: Record<CliAgentName, string> = {
  codex: "scripted-model",
  claude: "claude-scripted",
  copilot: "gpt-scripted",
};
const KEY_ENV = "SCRIPTED_MODEL_KEY";

let world: TestWorld;
let pool: AgentPool;
let server: ModelServer | null = null;
beforeEach(async () => {
  world = await makeWorld();
  pool = new AgentPool({
    db: world.db,
    dataDir: world.env.dataDir,
    owner: "worker-test/dispatcher",
    leaseMs: 60_000,
    tickMs: 50,
    stopStepMs: 300,
  });
  process.env[KEY_ENV] = "scripted-key-not-a-secret";
});
afterEach(async () => {
  await pool.stopAll("test over");
  await server?.close();
  server = null;
  world.cleanup();
});

async function runWith(agent: CliAgentName, script: ScriptStep[], file = "docs/guide.md") {
  server = await startModelServer(script);
  const repo = world.config.repositories[0];
  if (!repo?.policy) throw new Error("the demo has a policy");
  repo.policy.agents = { ...repo.policy.agents, default: agent, stallTimeoutMs: 30_000 };
  world.config.agents = {
    [agent]: { endpoint: `${server.url}/v1`, model: MODELS[agent], apiKeyEnv: KEY_ENV },
  };
  const [r] = createRequests(world.db, {
    input: { title: "Note the guide", description: "Add a line.", repo: "demo", files: [file] },
    requester: world.admin,
    config: world.config,
    source: "cli",
  });
  const probes = await pool.probeAll(world.config);
  expect([...probes.values()][0]).toMatchObject({ ok: true });
  await advance(world.db, world.config, "worker-test/dispatcher", undefined, 60_000, pool);
  await advance(world.db, world.config, "worker-test/dispatcher", undefined, 60_000, pool);
  await pool.idle();
  const task = world.db
    .select()
    .from(tasks)
    .where(eq(tasks.requestId, r?.id ?? 0))
    .get();
  const run = world.db
    .select()
    .from(agentRuns)
    .where(eq(agentRuns.taskId, task?.id ?? ""))
    .get();
  return { task, run };
}

for (const agent of cliAgentNames) {
  describe(`${agent}, the real CLI, through the harness`, () => {
    it("is installed (npm test runs node bin/agent-clis.mjs first)", () => {
      expect(
        cliExecutable(agent),
        `${agent} is missing: run node bin/agent-clis.mjs`,
      ).not.toBeNull();
    });

    it("makes the task's change as the scripted model says; it is queued", {
      timeout: 90_000,
    }, async () => {
      const { task, run } = await runWith(agent, [
        { shell: "printf 'agent line\\n' >> docs/guide.md" },
        { text: "Added a line to the guide." },
      ]);
      expect(run, run?.reason ?? "").toMatchObject({ agent, state: "submitted" });
      expect(run?.sessionId).toBeTruthy();
      expect(task?.state).toBe("submitted");
      const change = world.db
        .select()
        .from(changeRequests)
        .where(eq(changeRequests.id, run?.changeRequestId ?? 0))
        .get();
      expect(change?.patch).toContain("+agent line");
    });

    it("a write outside the task's files fails the run and names the path", {
      timeout: 90_000,
    }, async () => {
      const { run } = await runWith(agent, [{ shell: "printf x > stray.txt" }, { text: "Done." }]);
      expect(run?.state).toBe("failed");
      expect(run?.reason).toMatch(/outside its task: stray\.txt/);
    });

    it("a model error fails the run with the reason", { timeout: 90_000 }, async () => {
      const { run, task } = await runWith(agent, [{ error: 500, retry: false }]);
      expect(run?.state).toBe("failed");
      expect(run?.reason).toMatch(/the agent failed|made no change/);
      expect(task?.state).toBe("failed");
    });

    it("cannot touch the target's .git or Hyperion's data directory", {
      timeout: 90_000,
    }, async () => {
      const repoPath = world.config.repositories[0]?.path ?? "";
      const before = await git(["rev-parse", "HEAD"], { cwd: repoPath });
      const marker = path.join(world.env.dataDir, "pwned");
      const { run } = await runWith(agent, [
        {
          shell: `rm -rf ${repoPath}/.git; echo x > ${marker}; echo y > ${world.env.dataDir}/hyperion.db`,
        },
        { text: "Done." },
      ]);
      expect(run?.state).toBe("failed");
      expect(fs.existsSync(marker)).toBe(false);
      expect(await git(["rev-parse", "HEAD"], { cwd: repoPath })).toBe(before);
      expect(
        fs.readFileSync(path.join(world.env.dataDir, "hyperion.db")).subarray(0, 15).toString(),
      ).toBe("SQLite format 3");
    });
  });
}
