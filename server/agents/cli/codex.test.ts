import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import type { AgentEvent } from "@/schemas/agent-event";
import type { LaunchSpec, OutputParser } from "./adapter";
import { codex } from "./codex";

const fixture = (name: string) =>
  fs.readFileSync(path.join(import.meta.dirname, "fixtures", name), "utf8").split("\n");

/** Reads a recorded run with a parser that only reads (no stdin, no spec). */
const parse = (name: string): AgentEvent[] => {
  const parser = codex.parser();
  return fixture(name).flatMap((line) => parser.line(line) ?? []);
};

const spec: LaunchSpec = {
  workspace: "/run/work",
  home: "/run/home",
  promptFile: "/run/prompt.md",
  prompt: "Fix the bug",
  executable: "/opt/codex",
  endpoint: "http://127.0.0.1:9/v1",
  model: "gpt-test",
  apiKey: "key-value",
};

/** A parser holding the conversation, with what it writes to the CLI's stdin. */
function conversation(s: LaunchSpec = spec) {
  const written: Record<string, unknown>[] = [];
  let ended = 0;
  const parser = codex.parser(
    {
      write: (line) => written.push(JSON.parse(line)),
      end: () => {
        ended++;
      },
    },
    s,
  );
  return { parser, written, ended: () => ended };
}

const feed = (parser: OutputParser, lines: string[]) =>
  lines.flatMap((line) => parser.line(line) ?? []);

const line = (o: unknown) => JSON.stringify(o);

describe("codex launch", () => {
  it("runs app-server in its own home, stdin kept open for the conversation", () => {
    const l = codex.launch(spec);
    expect(l.argv.slice(0, 2)).toEqual(["/opt/codex", "app-server"]);
    expect(l.keepStdinOpen).toBe(true);
    expect(l.env).toEqual({ CODEX_HOME: "/run/home", OPENAI_API_KEY: "key-value" });
  });

  it("opens with initialize, asking not to be sent streaming deltas", () => {
    const stdin = codex.launch(spec).stdin ?? "";
    expect(stdin.endsWith("\n")).toBe(true);
    const init = JSON.parse(stdin);
    expect(init).toMatchObject({ id: 1, method: "initialize" });
    expect(init.params.clientInfo.name).toBe("hyperion");
    expect(init.params.capabilities.optOutNotificationMethods).toContain("item/agentMessage/delta");
  });

  it("points a provider of its own at the endpoint, with retries off and no side traffic", () => {
    const args = codex.launch(spec).argv.join(" ");
    expect(args).toContain("-c model_provider=hyperion");
    expect(args).toContain('base_url="http://127.0.0.1:9/v1"');
    expect(args).toContain('wire_api="responses"');
    expect(args).toContain("request_max_retries=0");
    expect(args).toContain("stream_max_retries=0");
    expect(args).toContain('env_key="OPENAI_API_KEY"');
    expect(args).toContain("-c analytics.enabled=false");
    expect(args).toContain("--disable plugins --disable remote_plugin --disable apps");
  });

  it("uses the CLI's own sign-in when no endpoint is configured", () => {
    const { endpoint: _, apiKey: __, ...bare } = spec;
    const l = codex.launch(bare);
    expect(l.argv.join(" ")).not.toContain("model_provider");
    expect(l.env).toEqual({ CODEX_HOME: "/run/home" });
  });
});

describe("codex app-server conversation", () => {
  const shell = fixture("codex-app-server-shell.jsonl");
  const at = (lines: string[], id: number) => lines.findIndex((l) => l.startsWith(`{"id":${id},`));

  it("starts the thread and the turn as the server answers, and closes stdin at the turn's end", () => {
    const c = conversation();
    feed(c.parser, shell.slice(0, at(shell, 1) + 1));
    expect(c.written).toEqual([
      { jsonrpc: "2.0", method: "initialized" },
      {
        jsonrpc: "2.0",
        id: 2,
        method: "thread/start",
        params: {
          cwd: "/run/work",
          approvalPolicy: "never",
          sandbox: "danger-full-access",
          model: "gpt-test",
        },
      },
    ]);
    const events = feed(c.parser, shell.slice(at(shell, 1) + 1, at(shell, 2) + 1));
    expect(events).toEqual([
      { kind: "session", sessionId: "01a23b14-2aa2-72f0-a71c-57714cac2aa2" },
    ]);
    expect(c.written.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: 3,
      method: "turn/start",
      params: {
        threadId: "01a23b14-2aa2-72f0-a71c-57714cac2aa2",
        input: [{ type: "text", text: "Fix the bug", text_elements: [] }],
      },
    });
    expect(c.ended()).toBe(0);
    feed(c.parser, shell.slice(at(shell, 2) + 1));
    expect(c.written).toHaveLength(3);
    expect(c.ended()).toBe(1);
  });

  it("resumes the named thread and starts its turn with the follow-up message", () => {
    const resume = fixture("codex-app-server-resume.jsonl");
    const thread = "01a23b14-3afd-7992-94bd-04fdde6b0312";
    const c = conversation({ ...spec, resume: { sessionId: thread, message: "Checks failed" } });
    feed(c.parser, resume);
    expect(c.written[1]).toMatchObject({
      id: 2,
      method: "thread/resume",
      params: { threadId: thread, cwd: "/run/work", approvalPolicy: "never" },
    });
    expect(c.written[2]).toMatchObject({
      id: 3,
      method: "turn/start",
      params: { threadId: thread, input: [{ type: "text", text: "Checks failed" }] },
    });
    expect(c.ended()).toBe(1);
  });

  it("steers the running turn with turn/steer, naming the turn", () => {
    const steer = fixture("codex-app-server-steer.jsonl");
    const c = conversation();
    feed(c.parser, steer.slice(0, at(steer, 3) + 1));
    expect(c.parser.steer?.("Also keep the tests green")).toBe(true);
    expect(c.written.at(-1)).toEqual({
      jsonrpc: "2.0",
      id: 10,
      method: "turn/steer",
      params: {
        threadId: "01a23b14-3096-7701-97ce-64a1cba6d801",
        expectedTurnId: "01a23b14-30b8-7433-8755-5d64396cb1db",
        input: [{ type: "text", text: "Also keep the tests green", text_elements: [] }],
      },
    });
    // The steer's own user message and the answer to it are no events of the run.
    const events = feed(c.parser, steer.slice(at(steer, 3) + 1));
    expect(events.filter((e) => e.kind === "message")).toEqual([{ kind: "message", text: "done" }]);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: true });
    expect(c.parser.steer?.("too late")).toBe(false);
  });

  it("holds a steer that comes before the turn: in turn/start, or sent once the turn has an id", () => {
    const early = conversation();
    feed(early.parser, shell.slice(0, at(shell, 1) + 1));
    expect(early.parser.steer?.("early note")).toBe(true);
    feed(early.parser, shell.slice(at(shell, 1) + 1, at(shell, 2) + 1));
    expect(early.written.at(-1)).toMatchObject({
      method: "turn/start",
      params: { input: [{ text: "Fix the bug" }, { text: "early note" }] },
    });

    const between = conversation();
    feed(between.parser, shell.slice(0, at(shell, 2) + 1));
    expect(between.parser.steer?.("note in between")).toBe(true);
    expect(between.written.at(-1)).toMatchObject({ method: "turn/start" });
    feed(between.parser, shell.slice(at(shell, 2) + 1, at(shell, 3) + 1));
    expect(between.written.at(-1)).toMatchObject({
      method: "turn/steer",
      params: { input: [{ text: "note in between" }] },
    });
  });

  it("takes the turn's id from turn/started when that comes before the answer to turn/start", () => {
    const c = conversation();
    feed(c.parser, shell.slice(0, at(shell, 2) + 1));
    expect(c.parser.steer?.("a note")).toBe(true);
    const threadId = "01a23b14-2aa2-72f0-a71c-57714cac2aa2";
    c.parser.line(line({ method: "turn/started", params: { threadId, turn: { id: "turn-9" } } }));
    expect(c.written.at(-1)).toMatchObject({
      method: "turn/steer",
      params: { threadId, expectedTurnId: "turn-9", input: [{ text: "a note" }] },
    });
  });

  it("cannot steer without the CLI's stdin", () => {
    expect(codex.parser().steer?.("x")).toBe(false);
  });

  it("reports a steer the server refused, without failing the run", () => {
    const c = conversation();
    expect(
      c.parser.line(line({ id: 10, error: { code: -32600, message: "expected turn mismatch" } })),
    ).toEqual([
      { kind: "error", message: "a steer was not taken: expected turn mismatch", fatal: false },
    ]);
    expect(c.ended()).toBe(0);
  });

  it("fails the run and closes stdin when the server refuses the thread", () => {
    const c = conversation();
    expect(
      c.parser.line(line({ id: 2, error: { code: -32600, message: "no such thread" } })),
    ).toEqual([
      {
        kind: "error",
        message: "codex app-server refused the thread: no such thread",
        fatal: true,
      },
      { kind: "turn_end", ok: false },
    ]);
    expect(c.ended()).toBe(1);
  });

  it("answers the server's requests so that nothing waits on a person", () => {
    const c = conversation();
    const ask = (id: number, method: string) => c.parser.line(line({ id, method, params: {} }));
    ask(100, "item/commandExecution/requestApproval");
    ask(101, "item/fileChange/requestApproval");
    ask(102, "execCommandApproval");
    ask(103, "mcpServer/elicitation/request");
    expect(ask(104, "item/tool/requestUserInput")).toEqual([
      { kind: "error", message: "codex asked for user input; none is given", fatal: false },
    ]);
    ask(105, "account/chatgptAuthTokens/refresh");
    expect(c.written).toEqual([
      { jsonrpc: "2.0", id: 100, result: { decision: "accept" } },
      { jsonrpc: "2.0", id: 101, result: { decision: "accept" } },
      { jsonrpc: "2.0", id: 102, result: { decision: "approved" } },
      { jsonrpc: "2.0", id: 103, result: { action: "decline", content: null, _meta: null } },
      { jsonrpc: "2.0", id: 104, result: { answers: {} } },
      {
        jsonrpc: "2.0",
        id: 105,
        error: {
          code: -32601,
          message: "account/chatgptAuthTokens/refresh is not supported by this client",
        },
      },
    ]);
  });
});

describe("codex app-server output", () => {
  const metadata = {
    kind: "error",
    message:
      "Model metadata for `scripted-model` not found. Defaulting to fallback metadata; this can degrade performance and cause issues.",
    fatal: false,
  };

  it("reads a run with a failing command, a command that wrote a file, and a final message", () => {
    expect(parse("codex-app-server-shell.jsonl")).toEqual([
      { kind: "session", sessionId: "01a23b14-2aa2-72f0-a71c-57714cac2aa2" },
      metadata,
      { kind: "command", command: "/bin/bash -lc 'ls no-such-file'", exitCode: null },
      {
        kind: "command",
        command: "/bin/bash -lc 'ls no-such-file'",
        exitCode: 2,
        output: "ls: cannot access 'no-such-file': No such file or directory\n",
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
      { kind: "usage", inputTokens: 29881, outputTokens: 20 },
      { kind: "turn_end", ok: true },
    ]);
  });

  it("reports a model failure once, as fatal, and ends the turn not ok", () => {
    const events = parse("codex-app-server-http-500.jsonl");
    expect(events.filter((e) => e.kind === "error")).toEqual([
      metadata,
      {
        kind: "error",
        message: "We’re currently experiencing high demand, which may cause temporary errors.",
        fatal: true,
      },
    ]);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: false });
  });

  it("takes a reconnect notice for what it is, not a failure", () => {
    const events = parse("codex-app-server-reconnect.jsonl");
    expect(events).toContainEqual({
      kind: "error",
      message:
        "Reconnecting... 1/2 (We’re currently experiencing high demand, which may cause temporary errors.)",
      fatal: false,
    });
    expect(events.filter((e) => e.kind === "error" && e.fatal)).toEqual([]);
    expect(events.at(-1)).toEqual({ kind: "turn_end", ok: true });
  });

  it("counts a resumed turn's own tokens, not the thread's total", () => {
    const events = parse("codex-app-server-resume.jsonl");
    expect(events[0]).toEqual({
      kind: "session",
      sessionId: "01a23b14-3afd-7992-94bd-04fdde6b0312",
    });
    expect(events.filter((e) => e.kind === "usage")).toEqual([
      { kind: "usage", inputTokens: 9971, outputTokens: 4 },
    ]);
  });

  it("reads file changes and tool calls, and leaves other lines alone", () => {
    const parser = codex.parser();
    const completed = (item: Record<string, unknown>) =>
      line({ method: "item/completed", params: { item, threadId: "t", turnId: "u" } });
    expect(
      parser.line(
        completed({
          type: "fileChange",
          id: "i",
          changes: [{ path: "src/a.ts", kind: { type: "update" }, diff: "" }],
          status: "completed",
        }),
      ),
    ).toEqual([{ kind: "file_edit", path: "src/a.ts" }]);
    expect(
      parser.line(
        completed({
          type: "mcpToolCall",
          id: "i",
          server: "docs",
          tool: "search",
          arguments: { q: "x" },
          status: "completed",
        }),
      ),
    ).toEqual([{ kind: "tool_call", tool: "docs.search", input: '{"q":"x"}' }]);
    expect(
      parser.line("WARNING: proceeding, even though we could not create PATH aliases"),
    ).toBeNull();
    expect(parser.line(line({ method: "thread/status/changed", params: {} }))).toEqual([]);
    expect(parser.line(line({ method: "something/new", params: { x: 1 } }))).toEqual([]);
  });

  it("ends only at its own thread's turn, not a sub-agent's", () => {
    const c = conversation();
    feed(c.parser, fixture("codex-app-server-shell.jsonl").slice(0, 4));
    const done = (threadId: string) =>
      line({
        method: "turn/completed",
        params: { threadId, turn: { id: "x", status: "completed", error: null } },
      });
    const started = (method: string, threadId: string) =>
      line({ method, params: { threadId, thread: { id: threadId }, turn: { id: "sub-turn" } } });
    expect(c.parser.line(started("thread/started", "another-thread"))).toEqual([]);
    expect(c.parser.line(started("turn/started", "another-thread"))).toEqual([]);
    expect(c.parser.line(done("another-thread"))).toEqual([]);
    expect(c.parser.line(done("01a23b14-2aa2-72f0-a71c-57714cac2aa2"))).toEqual([
      { kind: "turn_end", ok: true },
    ]);
  });
});
