import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import { copilot } from "./copilot";

const parse = (fixture: string): AgentEvent[] => {
  const parser = copilot.parser();
  const text = fs.readFileSync(path.join(import.meta.dirname, "fixtures", fixture), "utf8");
  return text.split("\n").flatMap((line) => parser.line(line) ?? []);
};

const spec = {
  workspace: "/run/work",
  home: "/run/home",
  promptFile: "/run/prompt.md",
  prompt: "Fix the bug",
  executable: "/opt/copilot",
  endpoint: "http://127.0.0.1:9/v1",
  model: "gpt-test",
  apiKey: "key-value",
};

describe("copilot launch", () => {
  it("runs the platform binary headless with JSONL out, everything allowed, the prompt on stdin", () => {
    const l = copilot.launch(spec);
    expect(l.argv.slice(0, -1)).toEqual([
      "/opt/copilot",
      "-C",
      "/run/work",
      "--output-format",
      "json",
      "--allow-all",
      "--no-ask-user",
      "--no-auto-update",
      "--disable-client-telemetry",
    ]);
    expect(l.stdin).toBe("Fix the bug");
    expect(l.keepStdinOpen).toBeFalsy();
  });

  it("names the new session itself, so it is known before the CLI prints it", () => {
    const l = copilot.launch(spec);
    expect(l.sessionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(l.argv.at(-1)).toBe(`--session-id=${l.sessionId}`);
    expect(copilot.launch(spec).sessionId).not.toBe(l.sessionId);
  });

  it("brings its own provider in offline mode, its home in the run", () => {
    expect(copilot.launch(spec).env).toEqual({
      COPILOT_HOME: "/run/home",
      COPILOT_AUTO_UPDATE: "false",
      COPILOT_MODEL: "gpt-test",
      COPILOT_PROVIDER_BASE_URL: "http://127.0.0.1:9/v1",
      COPILOT_PROVIDER_API_KEY: "key-value",
      COPILOT_OFFLINE: "true",
    });
  });

  it("reads its unpacked package from the pinned install", () => {
    const executable = "/cache/copilot@1.0.102/node_modules/@github/copilot-linux-x64/copilot";
    expect(copilot.launch({ ...spec, executable }).env.COPILOT_PKG_CACHE_HOME).toBe(
      "/cache/copilot@1.0.102/pkg-cache",
    );
    const global = "/usr/lib/node_modules/@github/copilot-linux-x64/copilot";
    expect(
      copilot.launch({ ...spec, executable: global }).env.COPILOT_PKG_CACHE_HOME,
    ).toBeUndefined();
  });

  it("resumes its session with the follow-up message", () => {
    const l = copilot.launch({ ...spec, resume: { sessionId: "s-1", message: "Checks failed" } });
    expect(l.argv.at(-1)).toBe("--resume=s-1");
    expect(l.sessionId).toBe("s-1");
    expect(l.stdin).toBe("Checks failed");
  });
});

describe("copilot output", () => {
  it("reads a run that wrote a file with bash and ended with a message", () => {
    expect(parse("copilot-shell.jsonl")).toEqual([
      { kind: "command", command: "printf 'hello from copilot' > src/a.js", exitCode: null },
      {
        kind: "command",
        command: "printf 'hello from copilot' > src/a.js",
        exitCode: 0,
        output: "",
      },
      { kind: "message", text: "done" },
      { kind: "session", sessionId: "0e3ee6a3-6e2b-464b-ab74-2e87b76a6aa4" },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("keeps a failing command's exit code, without Copilot's note to the model", () => {
    expect(parse("copilot-failure-and-write.jsonl")).toContainEqual({
      kind: "command",
      command: "ls no-such-file",
      exitCode: 2,
      output: "ls: cannot access 'no-such-file': No such file or directory",
    });
  });

  it("reads the files an edit tool changed", () => {
    const events = parse("copilot-anthropic-create.jsonl");
    expect(events).toContainEqual({ kind: "file_edit", path: "/tmp/scratch/ws3/b.txt" });
    expect(events.filter((e) => e.kind === "tool_call")).toEqual([]);
  });

  it("reports a model failure as fatal and the run's exit code as the turn's end", () => {
    expect(parse("copilot-http-500.jsonl")).toEqual([
      { kind: "error", message: "500 scripted error 500", fatal: true },
      { kind: "session", sessionId: "572ab8a5-0a85-4e2f-95c2-d6b966c329ed" },
      { kind: "turn_end", ok: false },
    ]);
  });

  it("ends only at the result, not at each model call's turn_end", () => {
    const parser = copilot.parser();
    expect(parser.line('{"type":"assistant.turn_end","data":{"turnId":"0"}}')).toEqual([]);
    expect(parser.line("Error: something on stdout")).toBeNull();
  });
});
