import fs from "node:fs";
import path from "node:path";
import { type CliAgentName, cliAgentNames } from "@/schemas/agents";
import { git } from "@/server/git/run";
import { MODEL_PORT } from "./ports";

/**
 * The real agent CLIs in the end-to-end run: a repository, `agents`, whose areas `codex`,
 * `claude` and `copilot` go to those CLIs, each pointed at a scripted model server that the
 * test process starts on this port (test-support/model-server.ts).
 */
export { MODEL_PORT };
export const MODEL_KEY_ENV = "E2E_SCRIPTED_MODEL_KEY";

export const MODELS: Record<CliAgentName, string> = {
  codex: "scripted-model",
  claude: "claude-scripted",
  copilot: "gpt-scripted",
};

/** The config's top-level `agents`: how the worker reaches each CLI's model. */
export const agentsConfig = Object.fromEntries(
  cliAgentNames.map((name) => [
    name,
    {
      endpoint: `http://127.0.0.1:${MODEL_PORT}/v1`,
      model: MODELS[name],
      apiKeyEnv: MODEL_KEY_ENV,
    },
  ]),
);

/** Creates the `agents` repository and returns its entry for the config's repositories. */
export async function agentsRepository(dir: string, relative: string) {
  for (const name of cliAgentNames) {
    fs.mkdirSync(path.join(dir, "agents", name), { recursive: true });
    fs.writeFileSync(path.join(dir, "agents", name, "note.md"), `# Notes for ${name}\n`);
  }
  fs.writeFileSync(path.join(dir, "README.md"), "# Agents\n\nEach area goes to a real CLI.\n");
  const who = {
    GIT_AUTHOR_NAME: "E2E",
    GIT_AUTHOR_EMAIL: "e2e@hyperion.local",
    GIT_COMMITTER_NAME: "E2E",
    GIT_COMMITTER_EMAIL: "e2e@hyperion.local",
  };
  await git(["init", "--quiet", "--initial-branch=main"], { cwd: dir });
  await git(["add", "--all"], { cwd: dir });
  await git(["commit", "--quiet", "--no-gpg-sign", "-m", "Agents: first commit"], {
    cwd: dir,
    env: who,
  });
  return {
    name: "agents",
    path: relative,
    targetBranch: "main",
    policy: {
      areas: [
        ...cliAgentNames.map((name) => ({
          name,
          paths: [`agents/${name}/**`],
          risk: "low",
          lockScope: "area",
        })),
        { name: "docs", paths: ["*.md"], risk: "low", lockScope: "files" },
      ],
      agents: {
        byArea: Object.fromEntries(cliAgentNames.map((n) => [n, n])),
        stallTimeoutMs: 120_000,
        attempts: 1,
      },
    },
  };
}
