import { createHash } from "node:crypto";
import http from "node:http";
import type { AddressInfo } from "node:net";
import zlib from "node:zlib";

/**
 * A scripted model server for driving real agent CLIs offline. It speaks the three wire
 * protocols the CLIs use — OpenAI Responses, OpenAI Chat Completions, Anthropic Messages —
 * streaming (SSE) or not, and answers each model request with the next turn of its script.
 * Turns are protocol-neutral; a tool call is put in the asking CLI's own vocabulary, read from
 * the `tools[]` its request lists.
 */

export type Turn =
  /** The final message of a turn. */
  | { text: string }
  /** A shell command, through whichever shell tool the CLI offers. */
  | { shell: string }
  /**
   * A tool call: `input` as given, or a `command` / a file `write` in the CLI's vocabulary
   * (Claude's Write wants an absolute path; without a write tool it becomes a shell command).
   */
  | {
      tool: {
        name?: string;
        command?: string;
        write?: { path: string; content: string };
        input?: Record<string, unknown>;
      };
    }
  /**
   * An HTTP error with the protocol's error body. `retry` sets the vendors' `x-should-retry`
   * header, which the SDKs obey (Copilot has no setting of its own to stop retrying).
   */
  | { error: number; message?: string; retry?: boolean }
  /** No answer at all, until the server closes. */
  | { hang: true }
  /** A final message of this many bytes, streamed in pieces. */
  | { bigText: number };

/** A turn, or a function of the request that asked for it (to assert on what the CLI sent). */
export type ScriptStep = Turn | ((request: RecordedRequest) => Turn | Promise<Turn>);

export type Protocol = "responses" | "chat" | "messages";

export type RecordedRequest = {
  method: string;
  /** Path and query, as sent. */
  path: string;
  /** Lower-cased names; credentials replaced by `<redacted>`. */
  headers: Record<string, string>;
  /**
   * The sha256 (hex) of the key the request carried (a Bearer token or x-api-key): a test can
   * tell the real key from a placeholder without the key itself being recorded.
   */
  keySha256?: string;
  /** Parsed JSON, or the raw text when it is not JSON; undefined when empty. */
  body: unknown;
  /** Set on model requests: which protocol, and which model request this is (from 1). */
  protocol?: Protocol;
  turn?: number;
};

export type ModelServer = {
  /** `http://127.0.0.1:<port>`, without `/v1`. */
  url: string;
  port: number;
  /** Every request, model or not, in arrival order. */
  requests: RecordedRequest[];
  /** Resolves when the n-th model request (from 1) has arrived, with that request. */
  waitForRequest(n: number): Promise<RecordedRequest>;
  close(): Promise<void>;
};

type Reply =
  | { kind: "text"; text: string }
  | { kind: "tool"; id: string; name: string; input: Record<string, unknown> };

type Usage = { input: number; output: number };

const SECRET_HEADERS = new Set(["authorization", "x-api-key", "api-key", "cookie"]);
const SHELL_TOOLS = ["exec_command", "shell_command", "shell", "Bash", "bash"];
const WRITE_TOOLS = ["Write", "create"];
const CHUNK = 8192;

export async function startModelServer(
  script: ScriptStep[],
  /** A fixed port, for a server another process was configured to reach (the e2e worker). */
  listenOn = 0,
): Promise<ModelServer> {
  const requests: RecordedRequest[] = [];
  const modelRequests: RecordedRequest[] = [];
  const waiters: { n: number; resolve: (r: RecordedRequest) => void }[] = [];
  let next = 0;
  let ids = 0;
  const newId = () => ++ids;

  const server = http.createServer((req, res) => {
    handle(req, res).catch((e: Error) => {
      if (!res.headersSent) json(res, 500, { error: { message: `model server: ${e.message}` } });
      else res.destroy(e);
    });
  });

  async function handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const raw = await readBody(req);
    const record: RecordedRequest = {
      method: req.method ?? "GET",
      path: req.url ?? "/",
      headers: redact(req.headers),
      body: parseBody(raw),
    };
    const key =
      String(req.headers.authorization ?? "").replace(/^Bearer\s+/i, "") ||
      String(req.headers["x-api-key"] ?? req.headers["api-key"] ?? "");
    if (key) record.keySha256 = createHash("sha256").update(key).digest("hex");
    requests.push(record);
    const pathname = new URL(record.path, "http://x").pathname.replace(/^\/v1(?=\/)/, "");

    if (record.method === "POST" && pathname === "/messages/count_tokens") {
      return json(res, 200, { input_tokens: estimateTokens(raw.length) });
    }
    const protocol = PROTOCOLS[pathname];
    if (record.method !== "POST" || !protocol) {
      return json(res, 404, { error: { message: `not found: ${record.method} ${pathname}` } });
    }

    record.protocol = protocol;
    record.turn = modelRequests.push(record);
    for (const w of waiters.filter((w) => w.n === record.turn)) w.resolve(record);

    const step = script[next++];
    if (step === undefined) {
      return errorReply(res, protocol, 500, `script exhausted at model request ${record.turn}`);
    }
    const turn = typeof step === "function" ? await step(record) : step;
    if ("hang" in turn) return;
    if ("error" in turn) {
      const message = turn.message ?? `scripted error ${turn.error}`;
      return errorReply(res, protocol, turn.error, message, turn.retry);
    }
    let reply: Reply;
    try {
      reply = toReply(turn, toolNames(record.body), `call_${newId()}`);
    } catch (e) {
      return errorReply(res, protocol, 500, (e as Error).message);
    }
    const body = isObject(record.body) ? record.body : {};
    const model = typeof body.model === "string" ? body.model : "scripted";
    const usage = { input: estimateTokens(raw.length), output: estimateTokens(replySize(reply)) };
    const answer = { reply, model, usage, id: newId() };
    if (body.stream === true) {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-cache",
        connection: "keep-alive",
      });
      const send = (event: string | null, data: unknown) =>
        res.write(`${event ? `event: ${event}\n` : ""}data: ${JSON.stringify(data)}\n\n`);
      STREAMS[protocol](send, answer, body);
      if (protocol === "chat") res.write("data: [DONE]\n\n");
      res.end();
    } else {
      json(res, 200, JSONS[protocol](answer));
    }
  }

  await new Promise<void>((resolve) => server.listen(listenOn, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  let closed: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    requests,
    waitForRequest(n) {
      const arrived = modelRequests[n - 1];
      if (arrived) return Promise.resolve(arrived);
      return new Promise((resolve) => waiters.push({ n, resolve }));
    },
    close() {
      closed ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Hanging turns and kept-alive sockets would hold the close forever.
        server.closeAllConnections();
      });
      return closed;
    },
  };
}

const PROTOCOLS: Record<string, Protocol> = {
  "/responses": "responses",
  "/chat/completions": "chat",
  "/messages": "messages",
};

// ---- Turns into replies, in the asking CLI's tool vocabulary ----

/** The tool names a request offers, whatever the protocol's shape of `tools[]`. */
export function toolNames(body: unknown): string[] {
  const tools = isObject(body) && Array.isArray(body.tools) ? body.tools : [];
  return tools.flatMap((t) => {
    if (!isObject(t)) return [];
    if (typeof t.name === "string") return [t.name];
    for (const inner of [t.function, t.custom]) {
      if (isObject(inner) && typeof inner.name === "string") return [inner.name];
    }
    return [];
  });
}

function toReply(
  turn: Exclude<Turn, { error: number } | { hang: true }>,
  offered: string[],
  id: string,
): Reply {
  if ("text" in turn) return { kind: "text", text: turn.text };
  if ("bigText" in turn) return { kind: "text", text: filler(turn.bigText) };
  const tool = "shell" in turn ? { command: turn.shell } : turn.tool;
  const pick = (candidates: string[]) => {
    const name = tool.name ?? candidates.find((c) => offered.includes(c));
    if (!name) throw new Error(`no tool among [${candidates}] in the request's tools [${offered}]`);
    return name;
  };
  if (tool.input) return { kind: "tool", id, name: pick([]), input: tool.input };
  if (tool.write) {
    const { path, content } = tool.write;
    const name = tool.name ?? WRITE_TOOLS.find((c) => offered.includes(c));
    if (name === "Write") return { kind: "tool", id, name, input: { file_path: path, content } };
    if (name === "create") return { kind: "tool", id, name, input: { path, file_text: content } };
    return toReply({ shell: `printf '%s' ${quote(content)} > ${quote(path)}` }, offered, id);
  }
  if (tool.command === undefined) throw new Error("a tool turn needs input, command or write");
  const name = pick(SHELL_TOOLS);
  return { kind: "tool", id, name, input: shellInput(name, tool.command) };
}

function shellInput(name: string, command: string): Record<string, unknown> {
  switch (name) {
    case "exec_command":
      return { cmd: command };
    case "shell":
      return { command: ["bash", "-lc", command] };
    case "bash":
      return { command, description: "Run a command", mode: "sync" };
    default:
      return { command };
  }
}

function quote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function filler(bytes: number): string {
  const line = "The quick brown fox jumps over the lazy dog, again and again.\n";
  return line.repeat(Math.ceil(bytes / line.length)).slice(0, bytes);
}

function replySize(reply: Reply): number {
  return reply.kind === "text" ? reply.text.length : JSON.stringify(reply.input).length;
}

function estimateTokens(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / 4));
}

function pieces(s: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < s.length; i += CHUNK) out.push(s.slice(i, i + CHUNK));
  return out.length ? out : [""];
}

// ---- The three protocols ----

type Answer = { reply: Reply; model: string; usage: Usage; id: number };
type Send = (event: string | null, data: unknown) => void;
type Body = Record<string, unknown>;

const now = () => Math.floor(Date.now() / 1000);

function responsesUsage(u: Usage) {
  return {
    input_tokens: u.input,
    input_tokens_details: { cached_tokens: 0 },
    output_tokens: u.output,
    output_tokens_details: { reasoning_tokens: 0 },
    total_tokens: u.input + u.output,
  };
}

function responsesItem({ reply, id }: Answer) {
  return reply.kind === "text"
    ? {
        id: `msg_${id}`,
        type: "message",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: reply.text, annotations: [] }],
      }
    : {
        id: `fc_${id}`,
        type: "function_call",
        status: "completed",
        call_id: reply.id,
        name: reply.name,
        arguments: JSON.stringify(reply.input),
      };
}

function responsesObject(a: Answer, status: string, output: unknown[], usage: unknown) {
  return {
    id: `resp_${a.id}`,
    object: "response",
    created_at: now(),
    status,
    model: a.model,
    output,
    parallel_tool_calls: true,
    usage,
  };
}

function streamResponses(send: Send, a: Answer) {
  let seq = 0;
  const emit = (type: string, data: Record<string, unknown>) =>
    send(type, { type, sequence_number: seq++, ...data });
  const item = responsesItem(a);
  emit("response.created", { response: responsesObject(a, "in_progress", [], null) });
  emit("response.in_progress", { response: responsesObject(a, "in_progress", [], null) });
  const at = { item_id: item.id, output_index: 0 };
  if (a.reply.kind === "text") {
    const { text } = a.reply;
    emit("response.output_item.added", {
      output_index: 0,
      item: { ...item, status: "in_progress", content: [] },
    });
    const part = { type: "output_text", text: "", annotations: [] };
    emit("response.content_part.added", { ...at, content_index: 0, part });
    for (const delta of pieces(text)) {
      emit("response.output_text.delta", { ...at, content_index: 0, delta });
    }
    emit("response.output_text.done", { ...at, content_index: 0, text });
    emit("response.content_part.done", { ...at, content_index: 0, part: { ...part, text } });
  } else {
    emit("response.output_item.added", {
      output_index: 0,
      item: { ...item, status: "in_progress", arguments: "" },
    });
    const args = JSON.stringify(a.reply.input);
    emit("response.function_call_arguments.delta", { ...at, delta: args });
    emit("response.function_call_arguments.done", { ...at, arguments: args });
  }
  emit("response.output_item.done", { output_index: 0, item });
  emit("response.completed", {
    response: responsesObject(a, "completed", [item], responsesUsage(a.usage)),
  });
}

function jsonResponses(a: Answer) {
  return responsesObject(a, "completed", [responsesItem(a)], responsesUsage(a.usage));
}

function chatUsage(u: Usage) {
  return { prompt_tokens: u.input, completion_tokens: u.output, total_tokens: u.input + u.output };
}

function chatToolCall(reply: Extract<Reply, { kind: "tool" }>) {
  return {
    id: reply.id,
    type: "function",
    function: { name: reply.name, arguments: JSON.stringify(reply.input) },
  };
}

function streamChat(send: Send, a: Answer, body: Body) {
  const base = { id: `chatcmpl-${a.id}`, object: "chat.completion.chunk", created: now() };
  const chunk = (delta: unknown, finish: string | null) =>
    send(null, {
      ...base,
      model: a.model,
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    });
  chunk({ role: "assistant", content: "" }, null);
  if (a.reply.kind === "text") {
    for (const content of pieces(a.reply.text)) chunk({ content }, null);
    chunk({}, "stop");
  } else {
    const call = chatToolCall(a.reply);
    chunk(
      { tool_calls: [{ index: 0, ...call, function: { ...call.function, arguments: "" } }] },
      null,
    );
    chunk({ tool_calls: [{ index: 0, function: { arguments: call.function.arguments } }] }, null);
    chunk({}, "tool_calls");
  }
  const options = isObject(body.stream_options) ? body.stream_options : {};
  if (options.include_usage === true) {
    send(null, { ...base, model: a.model, choices: [], usage: chatUsage(a.usage) });
  }
}

function jsonChat(a: Answer) {
  const message =
    a.reply.kind === "text"
      ? { role: "assistant", content: a.reply.text }
      : { role: "assistant", content: null, tool_calls: [chatToolCall(a.reply)] };
  return {
    id: `chatcmpl-${a.id}`,
    object: "chat.completion",
    created: now(),
    model: a.model,
    choices: [
      {
        index: 0,
        message,
        logprobs: null,
        finish_reason: a.reply.kind === "text" ? "stop" : "tool_calls",
      },
    ],
    usage: chatUsage(a.usage),
  };
}

function messagesUsage(u: Usage, output: number) {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
    output_tokens: output,
  };
}

function messagesObject(a: Answer, content: unknown[], stop: string | null, output: number) {
  return {
    id: `msg_${a.id}`,
    type: "message",
    role: "assistant",
    model: a.model,
    content,
    stop_reason: stop,
    stop_sequence: null,
    usage: messagesUsage(a.usage, output),
  };
}

function streamMessages(send: Send, a: Answer) {
  const emit = (type: string, data: Record<string, unknown> = {}) => send(type, { type, ...data });
  emit("message_start", { message: messagesObject(a, [], null, 1) });
  if (a.reply.kind === "text") {
    emit("content_block_start", { index: 0, content_block: { type: "text", text: "" } });
    emit("ping");
    for (const text of pieces(a.reply.text)) {
      emit("content_block_delta", { index: 0, delta: { type: "text_delta", text } });
    }
  } else {
    const { id, name } = a.reply;
    emit("content_block_start", {
      index: 0,
      content_block: { type: "tool_use", id, name, input: {} },
    });
    emit("ping");
    const partial_json = JSON.stringify(a.reply.input);
    emit("content_block_delta", { index: 0, delta: { type: "input_json_delta", partial_json } });
  }
  emit("content_block_stop", { index: 0 });
  emit("message_delta", {
    delta: { stop_reason: a.reply.kind === "text" ? "end_turn" : "tool_use", stop_sequence: null },
    usage: { output_tokens: a.usage.output },
  });
  emit("message_stop");
}

function jsonMessages(a: Answer) {
  const block =
    a.reply.kind === "text"
      ? { type: "text", text: a.reply.text }
      : { type: "tool_use", id: a.reply.id, name: a.reply.name, input: a.reply.input };
  const stop = a.reply.kind === "text" ? "end_turn" : "tool_use";
  return messagesObject(a, [block], stop, a.usage.output);
}

const STREAMS: Record<Protocol, (send: Send, a: Answer, body: Body) => void> = {
  responses: streamResponses,
  chat: streamChat,
  messages: streamMessages,
};
const JSONS: Record<Protocol, (a: Answer) => unknown> = {
  responses: jsonResponses,
  chat: jsonChat,
  messages: jsonMessages,
};

const ERROR_TYPES: Record<number, [openai: string, anthropic: string]> = {
  400: ["invalid_request_error", "invalid_request_error"],
  401: ["invalid_request_error", "authentication_error"],
  404: ["invalid_request_error", "not_found_error"],
  429: ["rate_limit_exceeded", "rate_limit_error"],
  529: ["server_error", "overloaded_error"],
};

function errorReply(
  res: http.ServerResponse,
  protocol: Protocol,
  status: number,
  message: string,
  retry?: boolean,
) {
  const [openai, anthropic] = ERROR_TYPES[status] ?? ["server_error", "api_error"];
  const body =
    protocol === "messages"
      ? { type: "error", error: { type: anthropic, message } }
      : { error: { message, type: openai, param: null, code: null } };
  json(res, status, body, retry === undefined ? {} : { "x-should-retry": String(retry) });
}

// ---- HTTP plumbing ----

function json(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}

async function readBody(req: http.IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const raw = Buffer.concat(chunks);
  switch (req.headers["content-encoding"]) {
    case "gzip":
      return zlib.gunzipSync(raw).toString("utf8");
    case "deflate":
      return zlib.inflateSync(raw).toString("utf8");
    case "br":
      return zlib.brotliDecompressSync(raw).toString("utf8");
    default:
      return raw.toString("utf8");
  }
}

function parseBody(raw: string): unknown {
  if (raw === "") return undefined;
  try {
    return JSON.parse(raw);
  } catch {
    return raw;
  }
}

function redact(headers: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = SECRET_HEADERS.has(name) ? "<redacted>" : String(value);
  }
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** The model name each real CLI is given against the scripted server (any name works offline). */
export const SCRIPTED_MODELS = {
  codex: "scripted-model",
  claude: "claude-scripted",
  copilot: "gpt-scripted",
} as const;

/** The variable the tests' agent config names for the scripted server's key. */
export const SCRIPTED_KEY_ENV = "SCRIPTED_MODEL_KEY";
