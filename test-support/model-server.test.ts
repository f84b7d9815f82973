import { afterEach, describe, expect, it } from "vitest";
import { type ModelServer, type ScriptStep, startModelServer } from "./model-server";

let server: ModelServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function serve(script: ScriptStep[]) {
  server = await startModelServer(script);
  return server;
}

function post(s: ModelServer, path: string, body: unknown, headers: Record<string, string> = {}) {
  return fetch(`${s.url}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
}

type Frame = { event?: string; data: string };

/** Splits an SSE body into frames, checking each is `event:`/`data:` lines ended by a blank line. */
async function frames(res: Response): Promise<Frame[]> {
  expect(res.headers.get("content-type")).toBe("text/event-stream");
  const text = await res.text();
  expect(text.endsWith("\n\n")).toBe(true);
  return text
    .slice(0, -2)
    .split("\n\n")
    .map((chunk) => {
      const frame: Frame = { data: "" };
      for (const line of chunk.split("\n")) {
        const m = /^(event|data): (.*)$/.exec(line);
        if (!m) throw new Error(`not an SSE line: ${line}`);
        if (m[1] === "event") frame.event = m[2];
        else frame.data = m[2] ?? "";
      }
      return frame;
    });
}

const json = (f: Frame) => JSON.parse(f.data) as Record<string, unknown>;

const responsesTools = (...names: string[]) =>
  names.map((name) => ({ type: "function", name, parameters: {} }));
const chatTools = (...names: string[]) =>
  names.map((name) => ({ type: "function", function: { name } }));
const messagesTools = (...names: string[]) => names.map((name) => ({ name, input_schema: {} }));

describe("OpenAI Responses", () => {
  it("streams a shell command as codex's exec_command function call, then completes with usage", async () => {
    const s = await serve([{ shell: "printf x > a.txt" }]);
    const res = await post(s, "/v1/responses", {
      model: "m",
      stream: true,
      input: [],
      tools: responsesTools("exec_command", "write_stdin"),
    });
    expect(res.status).toBe(200);
    const fs = await frames(res);
    expect(fs.map((f) => f.event)).toEqual([
      "response.created",
      "response.in_progress",
      "response.output_item.added",
      "response.function_call_arguments.delta",
      "response.function_call_arguments.done",
      "response.output_item.done",
      "response.completed",
    ]);
    for (const f of fs) expect(json(f).type).toBe(f.event);
    expect(fs.map((f) => json(f).sequence_number)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(json(fs[5] as Frame).item).toEqual({
      id: expect.any(String),
      type: "function_call",
      status: "completed",
      call_id: "call_1",
      name: "exec_command",
      arguments: '{"cmd":"printf x > a.txt"}',
    });
    const completed = json(fs[6] as Frame).response as Record<string, unknown>;
    expect(completed.status).toBe("completed");
    expect(completed.usage).toMatchObject({
      input_tokens: expect.any(Number),
      output_tokens: expect.any(Number),
      total_tokens: expect.any(Number),
      input_tokens_details: { cached_tokens: 0 },
      output_tokens_details: { reasoning_tokens: 0 },
    });
  });

  it("streams a final message as output text deltas and a completed message item", async () => {
    const s = await serve([{ text: "all done" }]);
    const fs = await frames(
      await post(s, "/v1/responses", { model: "m", stream: true, input: [] }),
    );
    expect(fs.map((f) => f.event)).toContain("response.output_text.delta");
    const done = fs.find((f) => f.event === "response.output_item.done") as Frame;
    expect(json(done).item).toMatchObject({
      type: "message",
      role: "assistant",
      content: [{ type: "output_text", text: "all done", annotations: [] }],
    });
  });

  it("answers a non-streaming request with the response object", async () => {
    const s = await serve([{ text: "plain" }]);
    const res = await post(s, "/v1/responses", { model: "m", input: [] });
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toMatchObject({
      object: "response",
      status: "completed",
      model: "m",
      output: [{ type: "message", content: [{ type: "output_text", text: "plain" }] }],
    });
  });
});

describe("OpenAI Chat Completions", () => {
  it("streams a shell command as Copilot's bash tool call, usage last, then [DONE]", async () => {
    const s = await serve([{ shell: "ls" }]);
    const res = await post(s, "/v1/chat/completions", {
      model: "gpt-x",
      stream: true,
      stream_options: { include_usage: true },
      messages: [],
      tools: chatTools("bash", "view"),
    });
    const fs = await frames(res);
    expect(fs.every((f) => f.event === undefined)).toBe(true);
    expect(fs.at(-1)?.data).toBe("[DONE]");
    const chunks = fs.slice(0, -1).map(json);
    for (const c of chunks) expect(c.object).toBe("chat.completion.chunk");
    const deltas = chunks.flatMap((c) =>
      (c.choices as { delta: Record<string, unknown> }[]).map((ch) => ch.delta),
    );
    expect(deltas[1]).toEqual({
      tool_calls: [
        { index: 0, id: "call_1", type: "function", function: { name: "bash", arguments: "" } },
      ],
    });
    expect(deltas[2]).toEqual({
      tool_calls: [
        {
          index: 0,
          function: { arguments: '{"command":"ls","description":"Run a command","mode":"sync"}' },
        },
      ],
    });
    const finish = chunks.flatMap((c) =>
      (c.choices as { finish_reason: string | null }[]).map((ch) => ch.finish_reason),
    );
    expect(finish.filter(Boolean)).toEqual(["tool_calls"]);
    expect(chunks.at(-1)).toMatchObject({
      choices: [],
      usage: { prompt_tokens: expect.any(Number) },
    });
  });

  it("sends usage only when the request asks for it, as the API does", async () => {
    const s = await serve([{ text: "hi" }]);
    const fs = await frames(
      await post(s, "/v1/chat/completions", { model: "m", stream: true, messages: [] }),
    );
    expect(
      fs
        .slice(0, -1)
        .map(json)
        .some((c) => "usage" in c),
    ).toBe(false);
  });

  it("answers a non-streaming request with one completion", async () => {
    const s = await serve([{ text: "hi" }]);
    const res = await post(s, "/v1/chat/completions", { model: "m", messages: [] });
    expect(await res.json()).toMatchObject({
      object: "chat.completion",
      choices: [{ index: 0, message: { role: "assistant", content: "hi" }, finish_reason: "stop" }],
      usage: { total_tokens: expect.any(Number) },
    });
  });
});

describe("Anthropic Messages", () => {
  it("streams a shell command as Claude Code's Bash tool use", async () => {
    const s = await serve([{ shell: "ls" }]);
    const res = await post(s, "/v1/messages?beta=true", {
      model: "claude-x",
      stream: true,
      messages: [],
      tools: messagesTools("Bash", "Write"),
    });
    const fs = await frames(res);
    expect(fs.map((f) => f.event)).toEqual([
      "message_start",
      "content_block_start",
      "ping",
      "content_block_delta",
      "content_block_stop",
      "message_delta",
      "message_stop",
    ]);
    for (const f of fs) expect(json(f).type).toBe(f.event);
    expect(json(fs[0] as Frame).message).toMatchObject({
      role: "assistant",
      model: "claude-x",
      usage: { input_tokens: expect.any(Number) },
    });
    expect(json(fs[1] as Frame).content_block).toEqual({
      type: "tool_use",
      id: "call_1",
      name: "Bash",
      input: {},
    });
    expect(json(fs[3] as Frame).delta).toEqual({
      type: "input_json_delta",
      partial_json: '{"command":"ls"}',
    });
    expect(json(fs[5] as Frame)).toMatchObject({
      delta: { stop_reason: "tool_use" },
      usage: { output_tokens: expect.any(Number) },
    });
  });

  it("writes a file with Claude Code's Write tool, and through the shell where there is none", async () => {
    const s = await serve([
      { tool: { write: { path: "/w/a.txt", content: "it's" } } },
      { tool: { write: { path: "/w/a.txt", content: "it's" } } },
    ]);
    const write = await frames(
      await post(s, "/v1/messages", { stream: true, tools: messagesTools("Bash", "Write") }),
    );
    expect(json(write[1] as Frame).content_block).toMatchObject({ name: "Write" });
    expect(json(write[3] as Frame).delta).toMatchObject({
      partial_json: '{"file_path":"/w/a.txt","content":"it\'s"}',
    });
    const shell = await frames(
      await post(s, "/v1/responses", { stream: true, tools: responsesTools("exec_command") }),
    );
    const item = json(shell.find((f) => f.event === "response.output_item.done") as Frame).item as {
      arguments: string;
    };
    expect(JSON.parse(item.arguments)).toEqual({ cmd: `printf '%s' 'it'\\''s' > '/w/a.txt'` });
  });

  it("ends a final message with end_turn, and answers without streaming too", async () => {
    const s = await serve([{ text: "done" }, { text: "again" }]);
    const fs = await frames(await post(s, "/v1/messages", { stream: true, messages: [] }));
    expect(json(fs[3] as Frame).delta).toEqual({ type: "text_delta", text: "done" });
    expect(json(fs[5] as Frame).delta).toMatchObject({ stop_reason: "end_turn" });
    const res = await post(s, "/v1/messages", { messages: [] });
    expect(await res.json()).toMatchObject({
      type: "message",
      content: [{ type: "text", text: "again" }],
      stop_reason: "end_turn",
    });
  });

  it("answers HEAD / and unknown paths with 404 and counts tokens without using a turn", async () => {
    const s = await serve([{ text: "kept" }]);
    expect((await fetch(s.url, { method: "HEAD" })).status).toBe(404);
    expect((await fetch(`${s.url}/v1/models`)).status).toBe(404);
    const count = await post(s, "/v1/messages/count_tokens", { messages: [] });
    expect(await count.json()).toEqual({ input_tokens: expect.any(Number) });
    const fs = await frames(await post(s, "/v1/messages", { stream: true }));
    expect(json(fs[3] as Frame).delta).toMatchObject({ text: "kept" });
    expect(s.requests.map((r) => [r.method, r.path, r.turn])).toEqual([
      ["HEAD", "/", undefined],
      ["GET", "/v1/models", undefined],
      ["POST", "/v1/messages/count_tokens", undefined],
      ["POST", "/v1/messages", 1],
    ]);
  });
});

describe("the script", () => {
  it("answers an error turn with the protocol's error body, and says whether to retry", async () => {
    const s = await serve([{ error: 500 }, { error: 429, message: "slow down", retry: false }]);
    const openai = await post(s, "/v1/responses", { stream: true });
    expect(openai.status).toBe(500);
    expect(openai.headers.get("x-should-retry")).toBeNull();
    expect(await openai.json()).toEqual({
      error: { message: "scripted error 500", type: "server_error", param: null, code: null },
    });
    const anthropic = await post(s, "/v1/messages", { stream: true });
    expect(anthropic.status).toBe(429);
    expect(anthropic.headers.get("x-should-retry")).toBe("false");
    expect(await anthropic.json()).toEqual({
      type: "error",
      error: { type: "rate_limit_error", message: "slow down" },
    });
  });

  it("lets a turn be a function of the request, and waits for requests without sleeping", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const s = await serve([
      async (req) => {
        await gate;
        const body = req.body as { input: { content: string }[] };
        return { text: `you said ${body.input[0]?.content}` };
      },
    ]);
    const answer = post(s, "/v1/responses", { input: [{ content: "hello" }] });
    const first = await s.waitForRequest(1);
    expect(first).toMatchObject({
      method: "POST",
      path: "/v1/responses",
      protocol: "responses",
      turn: 1,
    });
    release();
    expect(await (await answer).json()).toMatchObject({
      output: [{ content: [{ text: "you said hello" }] }],
    });
    expect(await s.waitForRequest(1)).toBe(first);
  });

  it("streams a big text in pieces that add up to its size", async () => {
    const s = await serve([{ bigText: 100_000 }]);
    const fs = await frames(await post(s, "/v1/chat/completions", { stream: true }));
    const pieces = fs
      .slice(0, -1)
      .map(json)
      .map((c) => (c.choices as { delta: { content?: string } }[])[0]?.delta.content ?? "");
    expect(pieces.filter(Boolean).length).toBeGreaterThan(1);
    expect(pieces.join("").length).toBe(100_000);
  });

  it("holds a hanging turn until the server closes", async () => {
    const s = await serve([{ hang: true }]);
    const pending = post(s, "/v1/responses", { stream: true }).then(
      () => "answered",
      () => "cut off",
    );
    await s.waitForRequest(1);
    await s.close();
    server = undefined;
    expect(await pending).toBe("cut off");
  });

  it("fails a request beyond the script, and one with no tool to express the turn", async () => {
    const s = await serve([{ shell: "ls" }]);
    const noShell = await post(s, "/v1/responses", {
      stream: true,
      tools: responsesTools("view_image"),
    });
    expect(noShell.status).toBe(500);
    expect(JSON.stringify(await noShell.json())).toContain("no tool among");
    const beyond = await post(s, "/v1/responses", { stream: true });
    expect(JSON.stringify(await beyond.json())).toContain("script exhausted at model request 2");
  });

  it("records each request's parsed body and headers, without credentials", async () => {
    const s = await serve([{ text: "ok" }]);
    await post(
      s,
      "/v1/chat/completions",
      { model: "m", messages: [{ role: "user", content: "hi" }] },
      {
        authorization: "Bearer sk-secret",
        "x-api-key": "sk-other",
      },
    );
    const [req] = s.requests;
    expect(req?.body).toEqual({ model: "m", messages: [{ role: "user", content: "hi" }] });
    expect(req?.headers.authorization).toBe("<redacted>");
    expect(req?.headers["x-api-key"]).toBe("<redacted>");
    expect(JSON.stringify(s.requests)).not.toContain("sk-");
  });
});
