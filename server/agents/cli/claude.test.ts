import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import { claude } from "./claude";

const parse = (fixture: string): AgentEvent[] => {
  const parser = claude.parser();
  const text = fs.readFileSync(path.join(import.meta.dirname, "fixtures", fixture), "utf8");
  return text.split("\n").flatMap((line) => parser.line(line) ?? []);
};

const spec = {
  workspace: "/run/work",
  home: "/run/home",
  promptFile: "/run/prompt.md",
  prompt: "Fix the bug",
  executable: "/opt/claude",
  endpoint: "http://127.0.0.1:9/v1",
  model: "claude-test",
  apiKey: "key-value",
};

const userMessage = (text: string) => ({
  type: "user",
  message: { role: "user", content: [{ type: "text", text }] },
  parent_tool_use_id: null,
  session_id: "",
});

describe("claude launch", () => {
  it("runs print mode with stream-json both ways, edits accepted and Bash allowed", () => {
    const l = claude.launch(spec);
    expect(l.argv).toEqual([
      "/opt/claude",
      "-p",
      "--input-format",
      "stream-json",
      "--output-format",
      "stream-json",
      "--verbose",
      "--model",
      "claude-test",
      "--permission-mode",
      "acceptEdits",
      "--allowedTools",
      "Bash",
    ]);
  });

  it("gives the prompt as the first user line and keeps stdin open until the turn ends", () => {
    const l = claude.launch(spec);
    expect(l.stdin?.endsWith("\n")).toBe(true);
    expect(JSON.parse(l.stdin ?? "")).toEqual(userMessage("Fix the bug"));
    expect(l.keepStdinOpen).toBe(true);
    expect(l.closeStdinAtTurnEnd).toBe(true);
  });

  it("points the SDK at the endpoint's root, with retries and side traffic off", () => {
    expect(claude.launch(spec).env).toEqual({
      CLAUDE_CONFIG_DIR: "/run/home",
      CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: "1",
      CLAUDE_CODE_MAX_RETRIES: "0",
      ANTHROPIC_BASE_URL: "http://127.0.0.1:9",
      ANTHROPIC_API_KEY: "key-value",
    });
  });

  it("resumes its session with the follow-up message as the first line", () => {
    const l = claude.launch({ ...spec, resume: { sessionId: "s-1", message: "Checks failed" } });
    expect(l.argv.slice(-2)).toEqual(["--resume", "s-1"]);
    expect(JSON.parse(l.stdin ?? "")).toEqual(userMessage("Checks failed"));
  });

  it("steers with a user line", () => {
    expect(JSON.parse(claude.steerLine?.("Mind the tests") ?? "")).toEqual(
      userMessage("Mind the tests"),
    );
  });
});

describe("claude output", () => {
  it("reads a run that wrote a file with Bash and ended with a message, with its cost", () => {
    expect(parse("claude-shell.jsonl")).toEqual([
      { kind: "session", sessionId: "f8f341f2-77f5-4eb9-b177-9ce843dcbf7e" },
      { kind: "command", command: "printf 'hello from claude' > src/a.js", exitCode: null },
      {
        kind: "command",
        command: "printf 'hello from claude' > src/a.js",
        exitCode: 0,
        output: "(Bash completed with no output)",
      },
      { kind: "message", text: "done" },
      { kind: "usage", inputTokens: 38149, outputTokens: 14, costUsd: 0.19109500000000001 },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("takes a failed Bash's exit code from its result, and a Write as a file edit", () => {
    const events = parse("claude-failure-and-write.jsonl");
    expect(events).toContainEqual({
      kind: "command",
      command: "ls no-such-file",
      exitCode: 2,
      output: "Exit code 2\nls: cannot access 'no-such-file': No such file or directory",
    });
    expect(events).toContainEqual({
      kind: "file_edit",
      path: "/tmp/hyperion-real-cli-eE0gkf/work/src/b.txt",
    });
  });

  it("reports an API error as fatal, not as the agent's message", () => {
    const events = parse("claude-http-500.jsonl");
    expect(events.filter((e) => e.kind === "message")).toEqual([]);
    expect(events.filter((e) => e.kind === "error")).toEqual([
      {
        kind: "error",
        message:
          "API Error: 500 scripted error 500. This is a server-side issue, usually temporary — try again in a moment. If it persists, check your inference gateway (127.0.0.1:40843).",
        fatal: true,
      },
    ]);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: false });
  });

  it("reads a steered run to its end", () => {
    const events = parse("claude-steer.jsonl");
    expect(events.filter((e) => e.kind === "command" && e.exitCode === 0)).toHaveLength(2);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: true });
  });

  it("reports retries and permission denials as non-fatal, an interrupted turn as failed", () => {
    const parser = claude.parser();
    const retry = {
      type: "system",
      subtype: "api_retry",
      attempt: 1,
      error_status: 529,
      error: "overloaded",
      session_id: "s",
    };
    expect(parser.line(JSON.stringify(retry))).toEqual([
      { kind: "session", sessionId: "s" },
      { kind: "error", message: "model request retried: 529 overloaded", fatal: false },
    ]);
    const interrupted = {
      type: "result",
      subtype: "error_during_execution",
      is_error: true,
      session_id: "s",
      permission_denials: [{ tool_name: "WebFetch", tool_use_id: "t", tool_input: {} }],
    };
    expect(parser.line(JSON.stringify(interrupted))).toEqual([
      { kind: "error", message: "permission denied: WebFetch", fatal: false },
      { kind: "error", message: "error_during_execution", fatal: true },
      { kind: "turn_end", ok: false },
    ]);
    expect(parser.line("not json")).toBeNull();
  });
});
