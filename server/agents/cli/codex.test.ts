import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import { codex } from "./codex";

const parse = (fixture: string): AgentEvent[] => {
  const parser = codex.parser();
  const text = fs.readFileSync(path.join(import.meta.dirname, "fixtures", fixture), "utf8");
  return text.split("\n").flatMap((line) => parser.line(line) ?? []);
};

const spec = {
  workspace: "/run/work",
  home: "/run/home",
  promptFile: "/run/prompt.md",
  prompt: "Fix the bug",
  executable: "/opt/codex",
  endpoint: "http://127.0.0.1:9/v1",
  model: "gpt-test",
  apiKey: "key-value",
};

describe("codex launch", () => {
  it("runs exec with JSON output in the workspace, the prompt on stdin and its home in the run", () => {
    const l = codex.launch(spec);
    expect(l.argv.slice(0, 6)).toEqual([
      "/opt/codex",
      "exec",
      "--json",
      "-C",
      "/run/work",
      "--skip-git-repo-check",
    ]);
    expect(l.argv).toContain("--dangerously-bypass-approvals-and-sandbox");
    expect(l.argv.at(-1)).toBe("-");
    expect(l.stdin).toBe("Fix the bug");
    expect(l.keepStdinOpen).toBeFalsy();
    expect(l.env).toEqual({ CODEX_HOME: "/run/home", OPENAI_API_KEY: "key-value" });
  });

  it("points a provider of its own at the endpoint, with retries off and no side traffic", () => {
    const args = codex.launch(spec).argv.join(" ");
    expect(args).toContain("-m gpt-test");
    expect(args).toContain("-c model_provider=hyperion");
    expect(args).toContain('base_url="http://127.0.0.1:9/v1"');
    expect(args).toContain('wire_api="responses"');
    expect(args).toContain("request_max_retries=0");
    expect(args).toContain("stream_max_retries=0");
    expect(args).toContain('env_key="OPENAI_API_KEY"');
    expect(args).toContain("-c analytics.enabled=false");
    expect(args).toContain("--disable plugins --disable remote_plugin --disable apps");
  });

  it("resumes its thread with the follow-up message on stdin", () => {
    const l = codex.launch({
      ...spec,
      resume: { sessionId: "thread-1", message: "Checks failed" },
    });
    expect(l.argv.slice(-3)).toEqual(["resume", "thread-1", "-"]);
    expect(l.stdin).toBe("Checks failed");
  });

  it("uses the CLI's own sign-in when no endpoint is configured", () => {
    const { endpoint: _, apiKey: __, ...bare } = spec;
    const l = codex.launch(bare);
    expect(l.argv.join(" ")).not.toContain("model_provider");
    expect(l.env).toEqual({ CODEX_HOME: "/run/home" });
  });
});

describe("codex output", () => {
  it("reads a run that wrote a file with a command and ended with a message", () => {
    expect(parse("codex-shell.jsonl")).toEqual([
      { kind: "session", sessionId: "01a1fe7b-d2ea-7151-adb0-7e5785dd647e" },
      {
        kind: "error",
        message:
          "Model metadata for `scripted-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.",
        fatal: false,
      },
      {
        kind: "command",
        command: `/bin/bash -lc "printf 'hello from codex' > src/a.js"`,
        exitCode: null,
      },
      {
        kind: "command",
        command: `/bin/bash -lc "printf 'hello from codex' > src/a.js"`,
        exitCode: 0,
        output: "",
      },
      { kind: "message", text: "done" },
      { kind: "usage", inputTokens: 19869, outputTokens: 13 },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("keeps a failing command's exit code and output", () => {
    expect(parse("codex-failure-and-write.jsonl")).toContainEqual({
      kind: "command",
      command: "/bin/bash -lc 'ls no-such-file'",
      exitCode: 2,
      output: "ls: cannot access 'no-such-file': No such file or directory\n",
    });
  });

  it("reports a model failure once, as fatal, and ends the turn not ok", () => {
    const events = parse("codex-http-500.jsonl");
    expect(events.filter((e) => e.kind === "error" && e.fatal)).toEqual([
      {
        kind: "error",
        message: "We’re currently experiencing high demand, which may cause temporary errors.",
        fatal: true,
      },
    ]);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: false });
  });

  it("takes a reconnect notice for what it is, not a failure", () => {
    const events = parse("codex-reconnect.jsonl");
    expect(events).toContainEqual({
      kind: "error",
      message:
        "Reconnecting... 1/2 (We’re currently experiencing high demand, which may cause temporary errors.)",
      fatal: false,
    });
    expect(events.filter((e) => e.kind === "error" && e.fatal)).toEqual([]);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: true });
  });

  it("names the same thread when resumed", () => {
    expect(parse("codex-resume.jsonl")[0]).toEqual({
      kind: "session",
      sessionId: "01a1fe7b-d744-7072-8b07-f14ffd0f13aa",
    });
  });

  it("reads file changes and tool calls, and leaves other lines alone", () => {
    const parser = codex.parser();
    const changes = {
      type: "item.completed",
      item: {
        id: "i",
        type: "file_change",
        changes: [{ path: "src/a.ts", kind: "update" }],
        status: "completed",
      },
    };
    expect(parser.line(JSON.stringify(changes))).toEqual([{ kind: "file_edit", path: "src/a.ts" }]);
    const mcp = {
      type: "item.completed",
      item: {
        id: "i",
        type: "mcp_tool_call",
        server: "docs",
        tool: "search",
        arguments: { q: "x" },
        status: "completed",
      },
    };
    expect(parser.line(JSON.stringify(mcp))).toEqual([
      { kind: "tool_call", tool: "docs.search", input: '{"q":"x"}' },
    ]);
    expect(
      parser.line("WARNING: proceeding, even though we could not create PATH aliases"),
    ).toBeNull();
    expect(parser.line('{"type":"turn.started"}')).toEqual([]);
    expect(parser.line('{"type":"something.new","x":1}')).toEqual([]);
  });
});
