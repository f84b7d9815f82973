import fs from "node:fs";
import path from "node:path";
import { eq } from "drizzle-orm";
import { describe, expect, it } from "vitest";
import { type CliAgentName, cliAgentNames } from "@/schemas/agents";
import { changeRequests } from "@/server/db/schema";
import { git } from "@/server/git/run";
import { agentWorld } from "@/test-support/agent-world";
import { type ModelServer, type ScriptStep, startModelServer } from "@/test-support/model-server";
import { cliExecutable } from "../agents/cli";

// Each real CLI (installed by bin/agent-clis.mjs) given a task through the whole harness — the
// worker's pool, a sparse workspace, bubblewrap, the run supervisor — against the scripted model
// server, on a real data directory, SQLite file and git repository.

const MODELS: Record<CliAgentName, string> = {
  codex: "scripted-model",
  claude: "claude-scripted",
  copilot: "gpt-scripted",
};
const KEY_ENV = "SCRIPTED_MODEL_KEY";

let server: ModelServer | null = null;
const aw = agentWorld({
  stopStepMs: 300,
  setup: () => {
    process.env[KEY_ENV] = "scripted-key-not-a-secret";
  },
  teardown: async () => {
    await server?.close();
    server = null;
  },
});

async function runWith(agent: CliAgentName, script: ScriptStep[], file = "docs/guide.md") {
  server = await startModelServer(script);
  aw.setAgents({ default: agent, stallTimeoutMs: 30_000 });
  aw.world.config.agents = {
    [agent]: { endpoint: `${server.url}/v1`, model: MODELS[agent], apiKeyEnv: KEY_ENV },
  };
  const requestId = await aw.fileRequest([file]);
  const probes = await aw.pool.probeAll(aw.world.config);
  expect([...probes.values()][0]).toMatchObject({ ok: true });
  await aw.dispatch();
  await aw.pool.idle();
  return aw.readBack(requestId);
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
      const [change] = await aw.world.db
        .select()
        .from(changeRequests)
        .where(eq(changeRequests.id, run?.changeRequestId ?? 0))
        .limit(1);
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
      const repoPath = aw.world.config.repositories[0]?.path ?? "";
      const before = await git(["rev-parse", "HEAD"], { cwd: repoPath });
      const marker = path.join(aw.world.env.dataDir, "pwned");
      const { run } = await runWith(agent, [
        {
          shell: `rm -rf ${repoPath}/.git; echo x > ${marker}; echo y > ${aw.world.env.dataDir}/hyperion.db`,
        },
        { text: "Done." },
      ]);
      // Every write was refused, so the agent ends cleanly having changed nothing: its task is
      // done with no change needed (agents.noChange's default), and nothing was touched.
      expect(run?.state).toBe("no_change");
      expect(fs.existsSync(marker)).toBe(false);
      expect(await git(["rev-parse", "HEAD"], { cwd: repoPath })).toBe(before);
      expect(
        fs.readFileSync(path.join(aw.world.env.dataDir, "hyperion.db")).subarray(0, 15).toString(),
      ).toBe("SQLite format 3");
    });
  });
}
