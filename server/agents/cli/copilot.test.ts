import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import type { LaunchSpec } from "./adapter";
import { copilot } from "./copilot";

const spec: LaunchSpec = {
  workspace: "/run/work",
  home: "/run/home",
  promptFile: "/run/prompt.md",
  prompt: "Fix the bug",
  executable: "/opt/copilot",
  endpoint: "http://127.0.0.1:9/v1",
  model: "gpt-test",
  apiKey: "key-value",
};

const fixture = (name: string) =>
  fs
    .readFileSync(path.join(import.meta.dirname, "fixtures", name), "utf8")
    .split("\n")
    .filter((l) => l.trim());

type Sent = {
  id?: number | string;
  method?: string;
  params?: unknown;
  result?: unknown;
  error?: unknown;
};

/**
 * A parser in a conversation, as the harness gives it: what it writes to Copilot's stdin, and
 * whether it closed it. `before` runs ahead of a line (to steer where the recording did).
 */
function conversation(s: LaunchSpec = spec) {
  const sent: Sent[] = [];
  let ended = false;
  const parser = copilot.parser(
    {
      write: (line) => {
        if (ended) throw new Error(`written after the end: ${line}`);
        sent.push(JSON.parse(line) as Sent);
      },
      end: () => {
        ended = true;
      },
    },
    s,
  );
  const events: AgentEvent[] = [];
  const feed = (lines: string[], before?: (line: string) => void) => {
    for (const line of lines) {
      before?.(line);
      events.push(...(parser.line(line) ?? []));
    }
    return events;
  };
  return { parser, sent, events, feed, ended: () => ended };
}

const rpc = (o: Record<string, unknown>) => JSON.stringify({ jsonrpc: "2.0", ...o });
const update = (sessionId: string, u: Record<string, unknown>) =>
  rpc({ method: "session/update", params: { sessionId, update: u } });
const chunk = (sessionId: string, text: string) =>
  update(sessionId, { sessionUpdate: "agent_message_chunk", content: { type: "text", text } });
/** The lines that open a session `s1` (an initialize answer that can load, a new session). */
const opened = [
  rpc({ id: 1, result: { protocolVersion: 1, agentCapabilities: { loadSession: true } } }),
  rpc({ id: 2, result: { sessionId: "s1" } }),
];

describe("copilot launch", () => {
  it("runs the platform binary as an ACP server on stdio, everything allowed, stdin kept open", () => {
    const l = copilot.launch(spec);
    expect(l.argv).toEqual([
      "/opt/copilot",
      "--acp",
      "-C",
      "/run/work",
      "--allow-all",
      "--no-ask-user",
      "--no-auto-update",
      "--disable-client-telemetry",
    ]);
    expect(l.keepStdinOpen).toBe(true);
    expect(JSON.parse(l.stdin ?? "")).toMatchObject({
      jsonrpc: "2.0",
      id: 1,
      method: "initialize",
      params: {
        protocolVersion: 1,
        clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
      },
    });
  });

  it("a resume launches the same way: the parser loads the session (--resume is ignored with --acp)", () => {
    const l = copilot.launch({ ...spec, resume: { sessionId: "s-1", message: "Checks failed" } });
    expect(l.argv).toEqual(copilot.launch(spec).argv);
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
});

describe("copilot ACP conversation", () => {
  it("opens a session in the workspace, prompts it, and closes stdin when the prompt is answered", () => {
    const c = conversation();
    c.feed(fixture("copilot-acp-shell.jsonl"));
    expect(c.sent).toEqual([
      {
        jsonrpc: "2.0",
        id: 2,
        method: "session/new",
        params: { cwd: "/run/work", mcpServers: [] },
      },
      {
        jsonrpc: "2.0",
        id: 3,
        method: "session/prompt",
        params: {
          sessionId: "918a27d1-5709-4748-8207-b49e2f213a89",
          prompt: [{ type: "text", text: "Fix the bug" }],
        },
      },
    ]);
    expect(c.ended()).toBe(true);
  });

  it("reads a run's commands with their exit codes and output, its message, tokens and end", () => {
    expect(conversation().feed(fixture("copilot-acp-shell.jsonl"))).toEqual([
      { kind: "session", sessionId: "918a27d1-5709-4748-8207-b49e2f213a89" },
      { kind: "command", command: "ls no-such-file", exitCode: null },
      {
        kind: "command",
        command: "ls no-such-file",
        exitCode: 2,
        output: "ls: cannot access 'no-such-file': No such file or directory",
      },
      { kind: "command", command: "printf 'hello from copilot' > src/a.js", exitCode: null },
      {
        kind: "command",
        command: "printf 'hello from copilot' > src/a.js",
        exitCode: 0,
        output: "",
      },
      { kind: "message", text: "done" },
      { kind: "usage", inputTokens: 34458, outputTokens: 44 },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("steers with a second prompt; the cancelled first one ends nothing, its tokens count", () => {
    const c = conversation();
    const marker = "also keep the tests green";
    c.feed(fixture("copilot-acp-steer.jsonl"), (line) => {
      // Where the recorded run steered: before Copilot answered the first prompt.
      if (line.includes('"id":3,"result"')) expect(c.parser.steer?.(marker)).toBe(true);
    });
    expect(c.sent.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: 4,
      method: "session/prompt",
      params: {
        sessionId: "142ca0d9-43d3-4b5e-aae0-9de8f18babcf",
        prompt: [{ type: "text", text: marker }],
      },
    });
    expect(c.events.filter((e) => e.kind === "turn_end")).toEqual([{ kind: "turn_end", ok: true }]);
    expect(c.events.at(-1)).toEqual({ kind: "turn_end", ok: true });
    // Copilot's counts run on over the process: each answer adds what is new.
    expect(c.events.filter((e) => e.kind === "usage")).toEqual([
      { kind: "usage", inputTokens: 11394, outputTokens: 21 },
      { kind: "usage", inputTokens: 34535 - 11394, outputTokens: 44 - 21 },
    ]);
    expect(c.events.filter((e) => e.kind === "command" && e.exitCode === 0)).toHaveLength(2);
    expect(c.ended()).toBe(true);
    expect(c.parser.steer?.("too late")).toBe(false);
  });

  it("a steer before the session is open goes with the first prompt", () => {
    const c = conversation();
    expect(c.parser.steer?.("early note")).toBe(true);
    c.feed(opened);
    expect(c.sent.at(-1)).toMatchObject({
      id: 3,
      method: "session/prompt",
      params: {
        sessionId: "s1",
        prompt: [
          { type: "text", text: "Fix the bug" },
          { type: "text", text: "early note" },
        ],
      },
    });
  });

  it("reads a model failure, which Copilot reports only as an Error: text, as fatal", () => {
    const c = conversation();
    expect(c.feed(fixture("copilot-acp-http-500.jsonl"))).toEqual([
      { kind: "session", sessionId: "a4894961-504d-4a70-ba1c-fb8e2fa3bbc5" },
      { kind: "error", message: "500 scripted error 500", fatal: true },
      { kind: "turn_end", ok: false },
    ]);
    expect(c.ended()).toBe(true);
  });

  it("an Error: notice the agent goes on after is not the turn's end", () => {
    const c = conversation();
    const events = c.feed([
      ...opened,
      chunk("s1", "Error: 429 slow down"),
      chunk("s1", "Recovered."),
      rpc({ id: 3, result: { stopReason: "end_turn" } }),
    ]);
    expect(events.slice(1)).toEqual([
      { kind: "error", message: "429 slow down", fatal: false },
      { kind: "message", text: "Recovered." },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("assembles text chunks into one message per model reply", () => {
    const events = conversation().feed([
      ...opened,
      chunk("s1", "Let me "),
      chunk("s1", "look."),
      update("s1", {
        sessionUpdate: "tool_call",
        toolCallId: "t1",
        title: "Viewing /run/work/a.js",
        kind: "read",
        status: "pending",
        rawInput: { path: "/run/work/a.js" },
      }),
      chunk("s1", "Done."),
      rpc({ id: 3, result: { stopReason: "end_turn" } }),
    ]);
    expect(events.slice(1)).toEqual([
      { kind: "message", text: "Let me look." },
      { kind: "tool_call", tool: "Viewing /run/work/a.js", input: '{"path":"/run/work/a.js"}' },
      { kind: "message", text: "Done." },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("loads the session a resume names, skipping what the load replays from its history", () => {
    const resume = { sessionId: "69a2e0d3-4606-4790-adc9-0d27d0a86085", message: "Checks failed" };
    const c = conversation({ ...spec, resume });
    c.feed(fixture("copilot-acp-resume.jsonl"), (line) => {
      if (line.includes('"id":3,"result"')) c.parser.steer?.("resume steer");
    });
    expect(c.sent[0]).toEqual({
      jsonrpc: "2.0",
      id: 2,
      method: "session/load",
      params: { sessionId: resume.sessionId, cwd: "/run/work", mcpServers: [] },
    });
    expect(c.sent[1]).toMatchObject({
      id: 3,
      method: "session/prompt",
      params: { sessionId: resume.sessionId, prompt: [{ type: "text", text: "Checks failed" }] },
    });
    expect(c.events).toEqual([
      { kind: "session", sessionId: resume.sessionId },
      { kind: "message", text: "second answer" },
      { kind: "usage", inputTokens: 11467, outputTokens: 4 },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("fails a resume when Copilot cannot load a session", () => {
    const c = conversation({ ...spec, resume: { sessionId: "s-1", message: "Checks failed" } });
    expect(c.feed([rpc({ id: 1, result: { protocolVersion: 1, agentCapabilities: {} } })])).toEqual(
      [
        {
          kind: "error",
          message: "this copilot cannot load a session over ACP (no loadSession capability)",
          fatal: true,
        },
        { kind: "turn_end", ok: false },
      ],
    );
    expect(c.sent).toEqual([]);
    expect(c.ended()).toBe(true);
  });

  it("reads the files Copilot's edit tools changed, its warnings as passing errors", () => {
    const target = "/tmp/hyperion-copilot-steer-fdccx8/work/src/b.txt";
    const events = conversation().feed(fixture("copilot-acp-edit.jsonl"));
    expect(events.filter((e) => e.kind === "file_edit")).toEqual([
      { kind: "file_edit", path: target },
      { kind: "file_edit", path: target },
    ]);
    expect(events.filter((e) => e.kind === "tool_call")).toEqual([]);
    expect(events.filter((e) => e.kind === "error")).toEqual([
      {
        kind: "error",
        message: expect.stringContaining("No token count multiplier"),
        fatal: false,
      },
    ]);
    // Its `Info:` notices (the file it created) are not the agent's words.
    expect(events.filter((e) => e.kind === "message")).toEqual([{ kind: "message", text: "done" }]);
  });

  it("grants a permission request once, and refuses what this client does not serve", () => {
    const c = conversation();
    c.feed([
      ...opened,
      rpc({
        id: 0,
        method: "session/request_permission",
        params: {
          sessionId: "s1",
          toolCall: { toolCallId: "t1" },
          options: [
            { optionId: "always", name: "Always allow", kind: "allow_always" },
            { optionId: "once", name: "Allow once", kind: "allow_once" },
            { optionId: "no", name: "Reject", kind: "reject_once" },
          ],
        },
      }),
      rpc({ id: "r2", method: "fs/read_text_file", params: { sessionId: "s1", path: "/etc/x" } }),
    ]);
    expect(c.sent.slice(-2)).toEqual([
      { jsonrpc: "2.0", id: 0, result: { outcome: { outcome: "selected", optionId: "once" } } },
      {
        jsonrpc: "2.0",
        id: "r2",
        error: { code: -32601, message: "fs/read_text_file is not supported by this client" },
      },
    ]);
  });

  it("a refused prompt fails the turn; a refused steer does not", () => {
    const steered = conversation();
    steered.feed(opened);
    steered.parser.steer?.("note");
    expect(steered.feed([rpc({ id: 4, error: { code: -32603, message: "busy" } })]).at(-1)).toEqual(
      { kind: "error", message: "a prompt was not taken: busy", fatal: false },
    );
    expect(steered.ended()).toBe(false);

    const refused = conversation();
    expect(
      refused.feed([...opened, rpc({ id: 3, error: { code: -32603, message: "no model" } })]),
    ).toEqual([
      { kind: "session", sessionId: "s1" },
      { kind: "error", message: "copilot refused the prompt: no model", fatal: true },
      { kind: "turn_end", ok: false },
    ]);
    expect(refused.ended()).toBe(true);
  });

  it("reads without speaking when the harness gives no stdin, and skips lines that are not JSON", () => {
    const parser = copilot.parser();
    const events = fixture("copilot-acp-shell.jsonl").flatMap((l) => parser.line(l) ?? []);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: true });
    expect(parser.steer?.("note")).toBe(false);
    expect(parser.line("Error: something on stdout")).toBeNull();
  });
});
