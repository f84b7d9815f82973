import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import {
  barrier,
  bodyOf,
  cliHarness,
  cliTestScope,
  expectUsableRun,
  finish,
  recordFixture,
  sessionOf,
  sessionSpec,
} from "@/test-support/cli-testbed";
import type { ModelServer } from "@/test-support/model-server";
import type { CliHarness } from "../cli-harness";
import { type CliAdapter, jsonLine } from "./adapter";
import { copilot } from "./copilot";
import { cliExecutable } from "./index";

// The real Copilot CLI as `copilot --acp`, through the real CliHarness (confined, its stdin held
// open, the adapter's parser holding the ACP conversation), against the scripted model server:
// a run, a steer while the model is holding a turn, a model failure, a steered resume, an edit.

const KEY_ENV = "COPILOT_STEER_TEST_KEY";
const TIMEOUT = 90_000;
/** The first prompt's JSON-RPC id; a steer is the next prompt. */
const FIRST_PROMPT = 3;

const exe = cliExecutable("copilot");
const test = exe ? it : it.skip;

const cli = cliTestScope(KEY_ENV);
const runDir = () => cli.runDir("hyperion-copilot-steer-");

/**
 * The copilot adapter with its stdout lines tapped: what the test records as fixtures, and how
 * it knows that Copilot took a steer (the first prompt's answer says it was cancelled).
 */
function tapped(base: CliAdapter = copilot) {
  const lines: string[] = [];
  let cancelled: (line: string) => void = () => {};
  const firstCancelled = new Promise<string>((resolve) => {
    cancelled = resolve;
  });
  const adapter: CliAdapter = {
    ...base,
    parser(io, spec) {
      const inner = base.parser(io, spec);
      return {
        line(text) {
          lines.push(text);
          const m = jsonLine(text);
          const result = m?.result as { stopReason?: unknown } | undefined;
          if (m?.id === FIRST_PROMPT && result?.stopReason === "cancelled") cancelled(text);
          return inner.line(text);
        },
        steer: (message) => inner.steer?.(message) ?? false,
      };
    },
  };
  return { adapter, lines, firstCancelled };
}

function harness(
  s: ModelServer,
  adapter: CliAdapter,
  cfg: { endpoint?: string; model?: string } = {},
): CliHarness {
  if (!exe) throw new Error("copilot is not installed: run node bin/agent-clis.mjs");
  return cliHarness(exe, adapter, {
    endpoint: `${s.url}/v1`,
    model: "gpt-scripted",
    apiKeyEnv: KEY_ENV,
    ...cfg,
  });
}

describe.runIf(process.platform === "linux")("copilot --acp through the CliHarness", () => {
  test(
    "a run runs a failing command, edits a file with another and ends its turn ok",
    async () => {
      const run = await runDir();
      const s = await cli.server([
        { shell: "ls no-such-file" },
        { shell: "printf 'hello from copilot' > src/a.js" },
        { text: "done" },
      ]);
      const tap = tapped();
      const r = await finish(
        await cli.start(harness(s, tap.adapter), sessionSpec(run, "Create src/a.js")),
      );
      recordFixture("copilot-acp-shell.jsonl", tap.lines);

      expectUsableRun(r, { allParsed: true });
      expect(fs.readFileSync(path.join(run.work, "src", "a.js"), "utf8")).toBe(
        "hello from copilot",
      );
      const commands = r.events.filter((e) => e.kind === "command" && e.exitCode != null);
      expect(commands).toMatchObject([
        { command: "ls no-such-file", exitCode: 2, output: expect.stringContaining("No such") },
        { command: "printf 'hello from copilot' > src/a.js", exitCode: 0 },
      ]);
      expect(r.events.filter((e) => e.kind === "message")).toEqual([
        { kind: "message", text: "done" },
      ]);
      const usage = r.events.filter((e) => e.kind === "usage");
      expect(usage).toHaveLength(1);
      expect(usage[0]).toMatchObject({ inputTokens: expect.any(Number) });
      expect(s.requests.filter((q) => q.turn).length).toBe(3);
      expect(await bodyOf(s, 1)).toContain("Create src/a.js");
    },
    TIMEOUT,
  );

  test(
    "a steer sent while the model holds the turn reaches the next model request",
    async () => {
      const run = await runDir();
      const marker = "steer-marker-c0p1: also keep the tests green";
      const steered = barrier();
      const s = await cli.server([
        { shell: "printf one > src/one.txt" },
        // The second answer waits until Copilot has taken the steer (and dropped this request).
        async () => {
          await steered.released;
          return { shell: "printf two > src/two.txt" };
        },
        { shell: "printf three > src/three.txt" },
        { text: "done" },
      ]);
      const tap = tapped();
      const session = await cli.start(
        harness(s, tap.adapter),
        sessionSpec(run, "Write some files"),
      );
      const finished = finish(session);

      await s.waitForRequest(2);
      expect(session.steer(marker)).toBe(true);
      // The steer is a second session/prompt: Copilot cancels the turn under way for it.
      expect(await tap.firstCancelled).toContain('"stopReason":"cancelled"');
      steered.release();
      const r = await finished;
      recordFixture("copilot-acp-steer.jsonl", tap.lines);

      expectUsableRun(r, { allParsed: true });
      expect(r.events.filter((e) => e.kind === "turn_end")).toHaveLength(1);
      expect(await bodyOf(s, 2)).not.toContain(marker);
      const next = await bodyOf(s, 3);
      expect(next).toContain(marker);
      // The new turn has the whole conversation: the task's prompt and the first command.
      expect(next).toContain("Write some files");
      expect(next).toContain("printf one > src/one.txt");
      expect(fs.readFileSync(path.join(run.work, "src", "one.txt"), "utf8")).toBe("one");
      expect(fs.readFileSync(path.join(run.work, "src", "three.txt"), "utf8")).toBe("three");
      // The turn ended and stdin with it: a later steer goes to the next session's prompt.
      expect(session.steer("too late")).toBe(false);
    },
    TIMEOUT,
  );

  test(
    "a model answering HTTP 500 fails the turn with a fatal error",
    async () => {
      const run = await runDir();
      // Copilot has no setting to stop retrying; the vendor's header tells it not to.
      const s = await cli.server([{ error: 500, retry: false }]);
      const tap = tapped();
      const r = await finish(
        await cli.start(harness(s, tap.adapter), sessionSpec(run, "Do something")),
      );
      recordFixture("copilot-acp-http-500.jsonl", tap.lines);

      expect(sessionOf(r.events)).toBeTruthy();
      expect(r.events.filter((e) => e.kind === "error" && e.fatal)).toEqual([
        { kind: "error", message: "500 scripted error 500", fatal: true },
      ]);
      expect(r.events.filter((e) => e.kind === "message")).toEqual([]);
      expect(r.events.at(-1)).toEqual({ kind: "turn_end", ok: false });
      expect(s.requests.filter((q) => q.turn).length).toBe(1);
    },
    TIMEOUT,
  );

  test(
    "a resume loads the session with the follow-up message, and can be steered too",
    async () => {
      const run = await runDir();
      const marker = "resume-steer-marker-5e1d";
      const steered = barrier();
      const s = await cli.server([
        { text: "first answer" },
        async () => {
          await steered.released;
          return { shell: "printf fixed > src/fix.txt" };
        },
        { text: "second answer" },
      ]);
      const first = await finish(
        await cli.start(harness(s, copilot), sessionSpec(run, "First question")),
      );
      expectUsableRun(first, { allParsed: true });
      const sessionId = sessionOf(first.events) ?? null;
      expect(sessionId).toBeTruthy();

      const tap = tapped();
      const resumed = await cli.start(
        harness(s, tap.adapter),
        sessionSpec(run, "First question", {
          resume: { sessionId, message: "Checks failed: please fix" },
        }),
      );
      const finished = finish(resumed);
      await s.waitForRequest(2);
      expect(resumed.steer(marker)).toBe(true);
      await tap.firstCancelled;
      steered.release();
      const r = await finished;
      recordFixture("copilot-acp-resume.jsonl", tap.lines);

      expectUsableRun(r, { allParsed: true });
      expect(sessionOf(r.events)).toBe(sessionId);
      // What session/load replays from the first session is not this run's.
      expect(r.events.filter((e) => e.kind === "message")).toEqual([
        { kind: "message", text: "second answer" },
      ]);
      const body = await bodyOf(s, 2);
      expect(body).toContain("First question");
      expect(body).toContain("first answer");
      expect(body).toContain("Checks failed: please fix");
      expect(await bodyOf(s, 3)).toContain(marker);
    },
    TIMEOUT,
  );

  test(
    "files written by Copilot's edit tools are reported as file edits",
    async () => {
      const run = await runDir();
      const target = path.join(run.work, "src", "b.txt");
      const s = await cli.server([
        { tool: { write: { path: target, content: "written\n" } } },
        { tool: { name: "edit", input: { path: target, old_str: "written", new_str: "edited" } } },
        { text: "done" },
      ]);
      // Under the anthropic provider type, claude-* models get the create and edit tools.
      const anthropic: CliAdapter = {
        ...copilot,
        launch(spec) {
          const l = copilot.launch(spec);
          return { ...l, env: { ...l.env, COPILOT_PROVIDER_TYPE: "anthropic" } };
        },
      };
      const tap = tapped(anthropic);
      const h = harness(s, tap.adapter, { endpoint: s.url, model: "claude-scripted" });
      const r = await finish(await cli.start(h, sessionSpec(run, "Write src/b.txt")));
      recordFixture("copilot-acp-edit.jsonl", tap.lines);

      expectUsableRun(r, { allParsed: true });
      expect(fs.readFileSync(target, "utf8")).toBe("edited\n");
      expect(r.events.filter((e) => e.kind === "file_edit")).toEqual([
        { kind: "file_edit", path: target },
        { kind: "file_edit", path: target },
      ]);
      expect(r.events.filter((e) => e.kind === "tool_call")).toEqual([]);
    },
    TIMEOUT,
  );
});
