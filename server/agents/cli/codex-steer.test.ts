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
import { codex } from "./codex";
import { cliExecutable } from "./index";

// The real codex CLI as `codex app-server`, through the real CliHarness (confined, its stdin
// held open, the adapter's parser holding the JSON-RPC conversation), against the scripted
// model server: a run, a steer while the model is holding a turn, a model failure, a resume.

const KEY_ENV = "CODEX_STEER_TEST_KEY";
const TIMEOUT = 90_000;

const exe = cliExecutable("codex");
const test = exe ? it : it.skip;

const cli = cliTestScope(KEY_ENV);
const runDir = () => cli.runDir("hyperion-codex-steer-");

/**
 * The codex adapter with its stdout lines tapped: what the test records as fixtures, and how it
 * knows that codex answered a steer (the answer to a `turn/steer`, id 10 and up).
 */
function tapped() {
  const lines: string[] = [];
  let steerAnswered: (line: string) => void = () => {};
  const steerAnswer = new Promise<string>((resolve) => {
    steerAnswered = resolve;
  });
  const adapter: CliAdapter = {
    ...codex,
    parser(io, spec) {
      const inner = codex.parser(io, spec);
      return {
        line(text) {
          lines.push(text);
          const m = jsonLine(text);
          if (m && !("method" in m) && typeof m.id === "number" && m.id >= 10) steerAnswered(text);
          return inner.line(text);
        },
        steer: (message) => inner.steer?.(message) ?? false,
      };
    },
  };
  return { adapter, lines, steerAnswer };
}

function harness(s: ModelServer, adapter: CliAdapter): CliHarness {
  if (!exe) throw new Error("codex is not installed: run node bin/agent-clis.mjs");
  const cfg = { endpoint: `${s.url}/v1`, model: "scripted-model", apiKeyEnv: KEY_ENV };
  return cliHarness(exe, adapter, cfg);
}

describe.runIf(process.platform === "linux")("codex app-server through the CliHarness", () => {
  test(
    "a run runs a failing command, edits a file with another and ends its turn ok",
    async () => {
      const run = await runDir();
      const s = await cli.server([
        { shell: "ls no-such-file" },
        { shell: "printf 'hello from codex' > src/a.js" },
        { text: "done" },
      ]);
      const tap = tapped();
      const r = await finish(
        await cli.start(harness(s, tap.adapter), sessionSpec(run, "Create src/a.js")),
      );
      recordFixture("codex-app-server-shell.jsonl", tap.lines);

      expectUsableRun(r);
      expect(fs.readFileSync(path.join(run.work, "src", "a.js"), "utf8")).toBe("hello from codex");
      const commands = r.events.filter((e) => e.kind === "command" && e.exitCode != null);
      expect(commands).toMatchObject([
        { command: expect.stringContaining("ls no-such-file"), exitCode: 2 },
        { command: expect.stringContaining("src/a.js"), exitCode: 0 },
      ]);
      expect(r.events).toContainEqual({ kind: "message", text: "done" });
      expect(r.events.filter((e) => e.kind === "usage")).toHaveLength(1);
      expect(r.unparsed).toEqual([]);
      expect(s.requests.filter((q) => q.turn).length).toBe(3);
      expect(await bodyOf(s, 1)).toContain("Create src/a.js");
    },
    TIMEOUT,
  );

  test(
    "a steer sent while the model holds the turn reaches the next model request",
    async () => {
      const run = await runDir();
      const marker = "steer-marker-7f3c: also keep the tests green";
      const steered = barrier();
      const s = await cli.server([
        { shell: "printf one > src/one.txt" },
        // The second answer waits until codex has taken the steer.
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
      expect(await tap.steerAnswer).toContain('"result":{"turnId"');
      steered.release();
      const r = await finished;
      recordFixture("codex-app-server-steer.jsonl", tap.lines);

      expectUsableRun(r);
      expect(await bodyOf(s, 2)).not.toContain(marker);
      expect(await bodyOf(s, 3)).toContain(marker);
      expect(fs.readFileSync(path.join(run.work, "src", "one.txt"), "utf8")).toBe("one");
      // The turn ended and stdin with it: a later steer goes to the next session's prompt.
      expect(session.steer("too late")).toBe(false);
    },
    TIMEOUT,
  );

  test(
    "a model answering HTTP 500 fails the turn with a fatal error",
    async () => {
      const run = await runDir();
      const s = await cli.server([{ error: 500 }]);
      const tap = tapped();
      const r = await finish(
        await cli.start(harness(s, tap.adapter), sessionSpec(run, "Do something")),
      );
      recordFixture("codex-app-server-http-500.jsonl", tap.lines);

      expect(sessionOf(r.events)).toBeTruthy();
      expect(r.events.filter((e) => e.kind === "error" && e.fatal)).toHaveLength(1);
      expect(r.events.at(-1)).toEqual({ kind: "turn_end", ok: false });
      // Retries are off: one model request, then the turn gave up.
      expect(s.requests.filter((q) => q.turn).length).toBe(1);
    },
    TIMEOUT,
  );

  test(
    "a resume continues the thread with the follow-up message, and can be steered too",
    async () => {
      const run = await runDir();
      const marker = "resume-steer-marker-91b2";
      const steered = barrier();
      const s = await cli.server([
        { text: "first answer" },
        async () => {
          await steered.released;
          return { shell: "printf fixed > src/fix.txt" };
        },
        { text: "second answer" },
      ]);
      const h = harness(s, codex);
      const first = await finish(await cli.start(h, sessionSpec(run, "First question")));
      expectUsableRun(first);
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
      expect(await tap.steerAnswer).toContain('"result":{"turnId"');
      steered.release();
      const r = await finished;
      recordFixture("codex-app-server-resume.jsonl", tap.lines);

      expectUsableRun(r);
      expect(sessionOf(r.events)).toBe(sessionId);
      expect(r.events).toContainEqual({ kind: "message", text: "second answer" });
      const body = await bodyOf(s, 2);
      expect(body).toContain("First question");
      expect(body).toContain("first answer");
      expect(body).toContain("Checks failed: please fix");
      expect(await bodyOf(s, 3)).toContain(marker);
    },
    TIMEOUT,
  );
});
