import { execFileSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "@/server/config/load";
import { harnessFor } from "@/server/runs/pool";
import { agentWorld } from "@/test-support/agent-world";
import { tempDir } from "@/test-support/fixtures";

// Agents that misbehave on purpose, as `command` agents (a few lines of Node given with -e):
// the run fails with a clear reason and nothing outside its run folder changes.

const aw = agentWorld();

/** Every file under a folder with its content's hash: what "nothing changed" compares. */
function snapshot(dir: string): string {
  return execFileSync("sh", ["-c", "find . -type f -print0 | sort -z | xargs -0 sha1sum"], {
    cwd: dir,
    encoding: "utf8",
  });
}

function repoPath(): string {
  return aw.world.config.repositories[0]?.path ?? "";
}

describe("an agent that misbehaves", () => {
  it("deleting its own workspace fails the run with a reason; nothing else changes", async () => {
    const before = snapshot(repoPath());
    aw.setCommand(
      `require("fs").rmSync(process.cwd(), { recursive: true, force: true }); console.log("gone")`,
    );
    const { run, task } = await aw.fileAndRun();
    expect(run?.state).toBe("failed");
    expect(run?.reason).toMatch(/the workspace was deleted/);
    expect(task?.state).toBe("failed");
    expect(snapshot(repoPath())).toBe(before);
  });

  it("following a symlink out of its workspace writes nothing there", async () => {
    const outside = tempDir("hyperion-outside-");
    fs.writeFileSync(path.join(outside, "kept.txt"), "untouched\n");
    const data = aw.world.env.dataDir;
    aw.setCommand(
      `const fs = require("fs");
for (const [name, to] of [["out", ${JSON.stringify(outside)}], ["data", ${JSON.stringify(data)}], ["repo", ${JSON.stringify(repoPath())}]]) {
  try { fs.symlinkSync(to, name); fs.writeFileSync(name + "/written.txt", "x"); console.log("wrote through " + name); } catch (e) { console.log(name + ": " + e.code); }
}
fs.appendFileSync("docs/guide.md", "agent line\\n");`,
    );
    const beforeRepo = snapshot(repoPath());
    const { run } = await aw.fileAndRun();
    expect(fs.readdirSync(outside)).toEqual(["kept.txt"]);
    expect(fs.existsSync(path.join(data, "written.txt"))).toBe(false);
    expect(snapshot(repoPath())).toBe(beforeRepo);
    // The symlinks it left are files outside its task: the run fails and names them.
    expect(run?.state).toBe("failed");
    expect(run?.reason).toMatch(/outside its task: .*\bdata\b.*\bout\b.*\brepo\b/);
  });

  it("a symlink in place of its task's file is not taken as the change", async () => {
    aw.setCommand(
      `const fs = require("fs"); fs.rmSync("docs/guide.md"); fs.symlinkSync("/etc/passwd", "docs/guide.md"); console.log("linked")`,
    );
    const { run } = await aw.fileAndRun();
    expect(run?.state).toBe("failed");
    expect(run?.reason).toMatch(/symlink|symbolic link/i);
  });

  it("writing into the target's .git by absolute path changes nothing", async () => {
    const gitDir = path.join(repoPath(), ".git");
    const before = snapshot(gitDir);
    aw.setCommand(
      `const fs = require("fs");
try { fs.writeFileSync(${JSON.stringify(path.join(gitDir, "config"))}, "[core]\\n\\tfsmonitor = touch /tmp/pwned\\n"); } catch (e) { console.log(e.code); }
try { fs.rmSync(${JSON.stringify(gitDir)}, { recursive: true, force: true }); } catch (e) { console.log(e.code); }
fs.appendFileSync("docs/guide.md", "agent line\\n");`,
    );
    const { run } = await aw.fileAndRun();
    expect(run?.state).toBe("submitted");
    expect(snapshot(gitDir)).toBe(before);
  });
});

describe("an agent that cannot be used", () => {
  function fakeCli(version: string): string {
    const dir = tempDir("hyperion-fake-cli-");
    // Readable by the sandbox user, which runs its --version.
    fs.chmodSync(dir, 0o755);
    const exe = path.join(dir, "codex");
    fs.writeFileSync(exe, `#!/bin/sh\necho "codex-cli ${version}"\n`, { mode: 0o755 });
    return exe;
  }

  it("a CLI older than the pinned minimum is refused at the probe, with the fix", async () => {
    const repo = aw.world.config.repositories[0];
    if (!repo?.policy) throw new Error("the demo has a policy");
    aw.world.config.agents = {
      codex: { path: fakeCli("0.1.0"), endpoint: "http://127.0.0.1:9/v1" },
    };
    const probe = await harnessFor("codex", repo.policy, aw.world.config).probe();
    expect(probe).toMatchObject({ ok: false });
    if (probe.ok) return;
    expect(probe.problem).toMatch(/is codex 0\.1\.0; Hyperion needs \d+\.\d+\.\d+ or newer/);
    expect(probe.fix).toMatch(/node bin\/agent-clis\.mjs/);
  });

  it("a CLI that is missing, or has no endpoint (signed out), is refused with the fix", async () => {
    const repo = aw.world.config.repositories[0];
    if (!repo?.policy) throw new Error("the demo has a policy");
    aw.world.config.agents = { codex: { path: "/nonexistent/codex" } };
    const missing = await harnessFor("codex", repo.policy, aw.world.config).probe();
    expect(missing).toMatchObject({ ok: false, fix: expect.stringMatching(/agent-clis/) });
    aw.world.config.agents = { codex: { path: fakeCli("9.0.0") } };
    const signedOut = await harnessFor("codex", repo.policy, aw.world.config).probe();
    expect(signedOut).toMatchObject({
      ok: false,
      problem: expect.stringMatching(/no model endpoint/),
      fix: expect.stringMatching(/agents\.codex\.endpoint/),
    });
  });

  it("a task for an agent that is not ready waits with the reason and the fix", async () => {
    aw.world.config.agents = { codex: { path: "/nonexistent/codex" } };
    const repo = aw.world.config.repositories[0];
    if (!repo?.policy) throw new Error("the demo has a policy");
    repo.policy.agents = { ...repo.policy.agents, default: "codex" };
    const { task, run } = await aw.fileAndRun();
    expect(run).toBeUndefined();
    expect(task?.state).toBe("pending");
    expect(task?.blockedReason).toMatch(/agent codex is not available: .*Fix: /);
  });

  it("a policy naming an unknown agent stops the config with the key named", () => {
    const dir = tempDir("hyperion-config-");
    const file = path.join(dir, "hyperion.config.json");
    fs.writeFileSync(
      file,
      JSON.stringify({
        repositories: [
          { name: "demo", path: repoPath(), policy: { agents: { default: "skynet" } } },
        ],
      }),
    );
    expect(() => loadConfig(file)).toThrow(ConfigError);
    expect(() => loadConfig(file)).toThrow(/repositories\[0\]\.policy\.agents\.default/);
  });
});
