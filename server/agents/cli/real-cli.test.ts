import { type ChildProcess, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import type { CliAgentName } from "@/schemas/agents";
import { git } from "@/server/git/run";
import { barrier, cliTestScope, recordFixture, sessionOf } from "@/test-support/cli-testbed";
import type { ModelServer } from "@/test-support/model-server";
import type { LaunchSpec } from "./adapter";
import { adapters, cliExecutable } from "./index";

// Each CLI, the real one from bin/agent-clis.mjs's install, driven headless against the scripted
// model server: what its adapter launches must do the task, and its parser must read the run.

const MODELS: Record<CliAgentName, string> = {
  // Unknown to codex: its shell tool is then exec_command. Copilot's gpt-* tools include bash.
  codex: "scripted-model",
  claude: "claude-scripted",
  copilot: "gpt-scripted",
};
const KEY = "scripted-key-not-a-secret";
const TIMEOUT = 60_000;
/** RECORD_CLI_FIXTURES=1 saves a run's stdout as its parser's fixture (after a version bump). */
const record = (file: string, r: Finished) => recordFixture(file, r.lines);

type Finished = { events: AgentEvent[]; lines: string[]; exitCode: number | null; stderr: string };
type Run = { child: ChildProcess; done: Promise<Finished> };

const cli = cliTestScope();

async function workspace() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "hyperion-real-cli-"));
  const work = path.join(root, "work");
  const home = path.join(root, "home");
  fs.mkdirSync(path.join(work, "src"), { recursive: true });
  fs.mkdirSync(home);
  fs.writeFileSync(path.join(work, "README.md"), "# A project\n");
  fs.writeFileSync(path.join(work, "src", ".keep"), "");
  await git(["init", "-q", "-b", "main"], { cwd: work });
  await git(["add", "-A"], { cwd: work });
  await git(["-c", "user.name=T", "-c", "user.email=t@example.test", "commit", "-qm", "initial"], {
    cwd: work,
  });
  cli.defer(() => fs.rmSync(root, { recursive: true, force: true }));
  return { root, work, home };
}

/**
 * Spawns the CLI as the harness would (own process group, scrubbed env: PATH, HOME and the
 * adapter's variables), feeds it its stdin, and reads its stdout through the adapter's parser.
 * A CLI that waits on an open stdin (Claude) has it closed at its turn's end.
 */
function start(
  name: CliAgentName,
  spec: Omit<LaunchSpec, "executable" | "promptFile">,
): Run & { sessionId?: string } {
  const adapter = adapters[name];
  const executable = cliExecutable(name);
  if (!executable) throw new Error(`${name} is not installed: run node bin/agent-clis.mjs`);
  const promptFile = path.join(spec.home, "..", "prompt.md");
  fs.writeFileSync(promptFile, spec.prompt);
  const launchSpec = { ...spec, executable, promptFile };
  const launch = adapter.launch(launchSpec);
  const [file, ...args] = launch.argv;
  if (!file) throw new Error("empty argv");
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: spec.home,
    ...launch.env,
  };
  const child = spawn(file, args, {
    cwd: spec.workspace,
    env: env as NodeJS.ProcessEnv,
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  cli.defer(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    process.kill(-(child.pid ?? 0), "SIGKILL");
    await exited;
  });
  child.stdin?.on("error", () => {});
  if (launch.stdin !== undefined) child.stdin?.write(launch.stdin);
  if (!launch.keepStdinOpen) child.stdin?.end();

  // As the harness does: a protocol adapter (codex app-server) talks to its CLI through stdin.
  const parser = adapter.parser(
    {
      write: (line) => {
        if (child.stdin?.writable) child.stdin.write(`${line}\n`);
      },
      end: () => child.stdin?.end(),
    },
    launchSpec,
  );
  const events: AgentEvent[] = [];
  const lines: string[] = [];
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const read = (async () => {
    const stdout = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    for await (const line of stdout) {
      lines.push(line);
      for (const e of parser.line(line) ?? []) {
        events.push(e);
        if (e.kind === "turn_end" && launch.closeStdinAtTurnEnd) child.stdin?.end();
      }
    }
  })();
  const done = Promise.all([read, exited]).then(([, exitCode]) => ({
    events,
    lines,
    exitCode,
    stderr,
  }));
  return { child, done, ...(launch.sessionId ? { sessionId: launch.sessionId } : {}) };
}

function spec(
  s: ModelServer,
  dirs: { work: string; home: string },
  name: CliAgentName,
  prompt: string,
) {
  return {
    workspace: dirs.work,
    home: dirs.home,
    prompt,
    endpoint: `${s.url}/v1`,
    model: MODELS[name],
    apiKey: KEY,
  };
}

function expectUsableRun(r: Finished) {
  const why = `stdout:\n${r.lines.join("\n").slice(-3000)}\nstderr:\n${r.stderr.slice(-2000)}`;
  expect(r.exitCode, why).toBe(0);
  expect(sessionOf(r.events), why).toBeTruthy();
  expect(
    r.events.filter((e) => e.kind === "error" && e.fatal),
    why,
  ).toEqual([]);
  expect(r.events.at(-1), why).toEqual({ kind: "turn_end", ok: true });
}

for (const name of ["codex", "claude", "copilot"] as const) {
  const installed = cliExecutable(name) !== null;
  const test = installed ? it : it.skip;
  const label = installed ? name : `${name} (not installed: run node bin/agent-clis.mjs)`;

  describe(`${label}, the real CLI against the scripted model server`, () => {
    test(
      "writes a file with a shell command, then ends with a message that the parser reads",
      async () => {
        const dirs = await workspace();
        const s = await cli.server([
          { shell: `printf 'hello from ${name}' > src/a.js` },
          { text: "done" },
        ]);
        const run = start(name, spec(s, dirs, name, "Create src/a.js"));
        const r = await run.done;
        record(`${name}-shell.jsonl`, r);
        expectUsableRun(r);
        expect(fs.readFileSync(path.join(dirs.work, "src", "a.js"), "utf8")).toBe(
          `hello from ${name}`,
        );
        const commands = r.events.filter((e) => e.kind === "command");
        expect(commands.some((c) => c.command.includes("src/a.js") && c.exitCode === 0)).toBe(true);
        expect(r.events).toContainEqual({ kind: "message", text: "done" });
        // A session id the launch chose (Copilot's) is the one the CLI used.
        if (run.sessionId) expect(sessionOf(r.events)).toBe(run.sessionId);
        expect(s.requests.filter((q) => q.turn).length).toBe(2);
        // The command's result went back to the model with the second request.
        expect(JSON.stringify((await s.waitForRequest(2)).body)).toContain("call_1");
      },
      TIMEOUT,
    );

    test(
      "reports a failing command with its exit code, and a file written with the write tool",
      async () => {
        const dirs = await workspace();
        const target = path.join(dirs.work, "src", "b.txt");
        const s = await cli.server([
          { shell: "ls no-such-file" },
          { tool: { write: { path: target, content: "written\n" } } },
          { text: "done" },
        ]);
        const r = await start(name, spec(s, dirs, name, "Try things")).done;
        record(`${name}-failure-and-write.jsonl`, r);

        expectUsableRun(r);
        expect(fs.readFileSync(target, "utf8")).toBe("written\n");
        const failed = r.events.find(
          (e) => e.kind === "command" && e.command.includes("no-such-file") && e.exitCode !== null,
        );
        expect(failed).toMatchObject({ exitCode: 2 });
        // Claude has a Write tool; the others write through their shell.
        if (name === "claude") expect(r.events).toContainEqual({ kind: "file_edit", path: target });
      },
      TIMEOUT,
    );

    test(
      "a model answering HTTP 500 ends the run with a fatal error and a non-zero exit",
      async () => {
        const dirs = await workspace();
        // Copilot has no setting to stop retrying; the vendor's header tells it not to.
        const s = await cli.server([
          { error: 500, ...(name === "copilot" ? { retry: false } : {}) },
        ]);
        const r = await start(name, spec(s, dirs, name, "Do something")).done;
        record(`${name}-http-500.jsonl`, r);

        // codex app-server and copilot --acp exit 0 once their stdin is closed: the failed turn
        // is the failure.
        if (name === "claude") expect(r.exitCode).not.toBe(0);
        expect(r.events.some((e) => e.kind === "error" && e.fatal)).toBe(true);
        expect(r.events.filter((e) => e.kind === "turn_end").at(-1)).toEqual({
          kind: "turn_end",
          ok: false,
        });
        // Retries are off: one model request, then the run gave up.
        expect(s.requests.filter((q) => q.turn).length).toBe(1);
      },
      TIMEOUT,
    );

    test(
      "a resume continues the CLI's own session with the follow-up message",
      async () => {
        const dirs = await workspace();
        const s = await cli.server([{ text: "first answer" }, { text: "second answer" }]);
        const first = await start(name, spec(s, dirs, name, "First question")).done;
        expectUsableRun(first);
        const sessionId = sessionOf(first.events);
        if (!sessionId) throw new Error("no session");

        const resumed = start(name, {
          ...spec(s, dirs, name, "First question"),
          resume: { sessionId, message: "Checks failed: please fix" },
        });
        const r = await resumed.done;
        record(`${name}-resume.jsonl`, r);
        expectUsableRun(r);
        expect(sessionOf(r.events)).toBe(sessionId);
        expect(r.events).toContainEqual({ kind: "message", text: "second answer" });
        const body = JSON.stringify((await s.waitForRequest(2)).body);
        expect(body).toContain("First question");
        expect(body).toContain("first answer");
        expect(body).toContain("Checks failed: please fix");
      },
      TIMEOUT,
    );
  });
}

const claudeInstalled = cliExecutable("claude") !== null;
(claudeInstalled ? it : it.skip)(
  "claude: a steer line written mid-run reaches the next model request",
  async () => {
    const dirs = await workspace();
    const answered = barrier();
    const s = await cli.server([
      { shell: "printf one > src/one.txt" },
      // The second answer waits until the steer is on Claude's stdin.
      async () => {
        await answered.released;
        return { shell: "printf two > src/two.txt" };
      },
      { text: "done" },
    ]);
    const run = start("claude", spec(s, dirs, "claude", "Write two files"));
    await s.waitForRequest(2);
    const line = adapters.claude.steerLine?.("Also keep the tests green") ?? "";
    await new Promise<void>((resolve, reject) =>
      run.child.stdin?.write(`${line}\n`, (err) => (err ? reject(err) : resolve())),
    );
    answered.release();
    const r = await run.done;
    record("claude-steer.jsonl", r);

    expectUsableRun(r);
    expect(JSON.stringify((await s.waitForRequest(2)).body)).not.toContain(
      "Also keep the tests green",
    );
    expect(JSON.stringify((await s.waitForRequest(3)).body)).toContain("Also keep the tests green");
    expect(fs.readFileSync(path.join(dirs.work, "src", "two.txt"), "utf8")).toBe("two");
  },
  TIMEOUT,
);
