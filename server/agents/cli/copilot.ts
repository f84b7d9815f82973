import path from "node:path";
import { z } from "zod";
import { type AgentEvent, clip } from "@/schemas/agent-event";
import type { CliAdapter, LaunchSpec, OutputParser, SessionIo } from "./adapter";
import { ToolCall, ToolCalls } from "./copilot-tools";
import { JsonRpcLines, type RpcAnswer, requestLine } from "./jsonrpc";
import versions from "./versions.json";

/**
 * The platform binary unpacks its JavaScript into a package cache on first use (≈235 MB, under
 * $HOME by default, so once per run). bin/agent-clis.mjs unpacks it beside the install instead,
 * where every run reads it.
 */
function packageCache(executable: string): string | undefined {
  const at = executable.lastIndexOf(`${path.sep}node_modules${path.sep}`);
  if (at < 0) return undefined;
  const prefix = executable.slice(0, at);
  return path.basename(prefix).startsWith("copilot@")
    ? path.join(prefix, versions.copilot.packageCache)
    : undefined;
}

function endpointEnv(spec: LaunchSpec): Record<string, string> {
  if (!spec.endpoint) return {};
  return {
    COPILOT_PROVIDER_BASE_URL: spec.endpoint,
    ...(spec.apiKey ? { COPILOT_PROVIDER_API_KEY: spec.apiKey } : {}),
    // With its own provider it needs no GitHub: no sign-in, telemetry, web tools or updates.
    COPILOT_OFFLINE: "true",
  };
}

/** JSON-RPC ids of the requests that open a session; prompts (the first, then steers) count on. */
const INITIALIZE = 1;
const SESSION = 2;
const FIRST_PROMPT = 3;

const ACP_VERSION = 1;

/**
 * The first line on stdin; the parser says the rest as the agent answers. No file system or
 * terminal from the client: Copilot uses its own tools, inside the harness's confinement.
 */
const initializeLine = requestLine(INITIALIZE, "initialize", {
  protocolVersion: ACP_VERSION,
  clientCapabilities: { fs: { readTextFile: false, writeTextFile: false }, terminal: false },
  clientInfo: { name: "hyperion", title: "Hyperion", version: "0.1.0" },
});

const textBlock = (text: string) => ({ type: "text", text });

/**
 * Copilot CLI as an Agent Client Protocol server (`copilot --acp`: JSON-RPC lines on stdio),
 * launched as the platform binary (the npm loader would orphan it on a signal). The parser holds
 * the conversation: `initialize`, `session/new` (or `session/load` of the session a resume names),
 * one `session/prompt` with the prompt, another for each steer, and stdin closed once the last
 * prompt is answered, which ends the process (with exit code 0 even when the turn failed).
 * It has no setting to stop retrying a failed model request (it tries 5 more times, ≈16 s,
 * unless the server answers `x-should-retry: false`).
 */
export const copilot: CliAdapter = {
  name: "copilot",
  npmPackage: "@github/copilot",
  bin: "copilot",
  // `--version` would unpack the package cache into $HOME first.
  versionArgs: ["--binary-version"],

  launch(spec) {
    const argv = [
      spec.executable,
      "--acp",
      "-C",
      spec.workspace,
      "--allow-all",
      "--no-ask-user",
      "--no-auto-update",
      "--disable-client-telemetry",
    ];
    const cache = packageCache(spec.executable);
    const env: Record<string, string> = {
      COPILOT_HOME: spec.home,
      COPILOT_AUTO_UPDATE: "false",
      ...(cache ? { COPILOT_PKG_CACHE_HOME: cache } : {}),
      ...(spec.model ? { COPILOT_MODEL: spec.model } : {}),
      ...endpointEnv(spec),
    };
    return { argv, env, stdin: `${initializeLine}\n`, keepStdinOpen: true };
  },

  parser: (io, spec) => new CopilotAcpParser(io, spec),
};

const Initialized = z.looseObject({
  protocolVersion: z.number(),
  agentCapabilities: z.looseObject({ loadSession: z.boolean().optional() }).optional(),
});
const NewSession = z.looseObject({ sessionId: z.string().min(1) });
const Usage = z.looseObject({
  inputTokens: z.number().int().nonnegative(),
  outputTokens: z.number().int().nonnegative(),
});
const PromptResult = z.looseObject({ stopReason: z.string(), usage: Usage.nullish() });

const Update = z.looseObject({
  sessionId: z.string(),
  update: z.looseObject({ sessionUpdate: z.string() }),
});
const TextChunk = z.looseObject({
  content: z.looseObject({ type: z.literal("text"), text: z.string() }),
});
const PermissionRequest = z.looseObject({
  options: z.array(z.looseObject({ optionId: z.string(), kind: z.string() })),
});

/**
 * Copilot's own notices reach an ACP client only as agent text, one chunk each: `Error: …` (a
 * failed model request, after which the turn still ends with `end_turn`), `Warning: …`, `Info: …`.
 */
const NOTICE = /^(Error|Warning|Info): ([\s\S]*)$/;

const STOPS: Record<string, string> = {
  cancelled: "the turn was cancelled",
  max_tokens: "the model's reply hit its token limit",
  max_turn_requests: "the turn hit Copilot's limit of model requests",
  refusal: "the model refused to go on",
};

/**
 * Copilot's side of the ACP conversation, read into AgentEvents: the session's id, its
 * `session/update`s (agent text assembled into one message per model reply, `tool_call` and
 * `tool_call_update`: shell commands with their exit codes, edits with their paths, other tools
 * by title), the tokens each `session/prompt` answer reports (Copilot's count runs on over the
 * process, so each answer adds what is new), and the turn's end when the last prompt is
 * answered. A later prompt cancels the turn under way (its answer says `cancelled`) and starts a
 * turn that has the whole conversation: that is how a steer gets in. Updates that `session/load`
 * replays from the session's history are not this run's and are skipped.
 *
 * With `io` and `spec` (the harness gives both) it also speaks: it opens the session, prompts,
 * steers, answers permission requests, and closes stdin at the end. Without them it only reads.
 */
class CopilotAcpParser implements OutputParser {
  private readonly rpc: JsonRpcLines<AgentEvent>;
  private sessionId: string | undefined;
  /** The session is open: updates from now on are this run's (not a `session/load` replay). */
  private open = false;
  /** Prompts sent and not yet answered; the turn ends when none is left. */
  private readonly prompts = new Set<number>();
  /** Steers that came before the session was open: sent with the first prompt. */
  private waiting: string[] = [];
  private text = "";
  /** An `Error:` notice: fatal if the turn ends right after it, a passing error otherwise. */
  private failure: string | undefined;
  private readonly tools = new ToolCalls();
  private counted = { input: 0, output: 0 };

  constructor(
    private readonly io?: SessionIo,
    private readonly spec?: LaunchSpec,
  ) {
    // Our requests have numeric ids: an answer under any other is not to one of them.
    this.rpc = new JsonRpcLines(
      io,
      {
        request: (method, params) => this.request(method, params),
        notification: (method, params) => this.notification(method, params),
        result: (id, result) => (typeof id === "number" ? this.response(id, result) : []),
        error: (id, message) => (typeof id === "number" ? this.refused(id, message) : []),
      },
      FIRST_PROMPT,
    );
  }

  line(text: string): AgentEvent[] | null {
    return this.rpc.line(text);
  }

  steer(message: string): boolean {
    if (this.rpc.ended || !this.io || !this.spec) return false;
    if (this.open && this.sessionId) this.prompt([message]);
    else this.waiting.push(message);
    return true;
  }

  /** Sends a prompt (only reading, it is counted as sent: the recorded run sent it). */
  private prompt(texts: string[]) {
    if (!this.sessionId) return;
    this.prompts.add(
      this.rpc.call("session/prompt", { sessionId: this.sessionId, prompt: texts.map(textBlock) }),
    );
  }

  private fail(message: string): AgentEvent[] {
    this.rpc.end();
    return [
      { kind: "error", message: clip(message), fatal: true },
      { kind: "turn_end", ok: false },
    ];
  }

  private response(id: number, result: unknown): AgentEvent[] {
    if (id === INITIALIZE) return this.initialized(result);
    if (id === SESSION) {
      const resumed = this.spec?.resume?.sessionId;
      const r = NewSession.safeParse(result);
      const sessionId = resumed ?? (r.success ? r.data.sessionId : undefined);
      this.open = true;
      // Only reading (no spec), a loaded session is named by its first update.
      if (!sessionId)
        return this.spec ? this.fail("copilot answered session/new without a session id") : [];
      this.sessionId = sessionId;
      const spec = this.spec;
      const first = spec ? [spec.resume ? spec.resume.message : spec.prompt] : [];
      if (!this.rpc.ended) this.prompt([...first, ...this.waiting.splice(0)]);
      return [{ kind: "session", sessionId: sessionId.slice(0, 200) }];
    }
    if (id < FIRST_PROMPT) return [];
    const r = PromptResult.safeParse(result);
    return this.answered(id, r.success ? r.data : { stopReason: "unknown" });
  }

  private initialized(result: unknown): AgentEvent[] {
    const spec = this.spec;
    if (!spec) return [];
    const r = Initialized.safeParse(result);
    if (!r.success || r.data.protocolVersion !== ACP_VERSION)
      return this.fail(
        `copilot speaks ACP version ${r.success ? r.data.protocolVersion : "?"}, not ${ACP_VERSION}`,
      );
    const params = { cwd: spec.workspace, mcpServers: [] };
    if (!spec.resume) {
      this.rpc.request(SESSION, "session/new", params);
      return [];
    }
    // Under --acp, --resume is ignored (checked with 1.0.102): a session is resumed only by load.
    if (!r.data.agentCapabilities?.loadSession)
      return this.fail("this copilot cannot load a session over ACP (no loadSession capability)");
    this.rpc.request(SESSION, "session/load", { sessionId: spec.resume.sessionId, ...params });
    return [];
  }

  /** The answer to a prompt: the turn's end when it was the last one, else only its tokens. */
  private answered(id: number, r: z.infer<typeof PromptResult>): AgentEvent[] {
    if (!this.prompts.delete(id)) return [];
    const events: AgentEvent[] = [...this.flush(), ...this.count(r.usage)];
    if (this.prompts.size > 0) return [...events, ...this.settle()];
    const failure = this.failure;
    this.failure = undefined;
    if (r.stopReason === "end_turn" && failure === undefined) {
      this.rpc.end();
      return [...events, { kind: "turn_end", ok: true }];
    }
    const why = failure ?? STOPS[r.stopReason] ?? `the turn ended with ${r.stopReason}`;
    return [...events, ...this.fail(why)];
  }

  private count(usage: z.infer<typeof Usage> | null | undefined): AgentEvent[] {
    if (!usage) return [];
    const input = usage.inputTokens - this.counted.input;
    const output = usage.outputTokens - this.counted.output;
    this.counted = { input: usage.inputTokens, output: usage.outputTokens };
    if (input < 0 || output < 0) return [];
    return [{ kind: "usage", inputTokens: input, outputTokens: output }];
  }

  /** An error answer to one of our requests. */
  private refused(id: number, message: string): AgentEvent[] {
    if (id >= FIRST_PROMPT) {
      if (!this.prompts.delete(id)) return [];
      if (this.prompts.size > 0)
        return [
          { kind: "error", message: clip(`a prompt was not taken: ${message}`), fatal: false },
        ];
      return [...this.flush(), ...this.fail(`copilot refused the prompt: ${message}`)];
    }
    const what = id === INITIALIZE ? "initialize" : "the session";
    return this.fail(`copilot refused ${what}: ${message}`);
  }

  /**
   * Requests from the agent wait for an answer, or the turn hangs. With --allow-all few come;
   * a permission is granted (the harness confines the process), anything else is not served.
   */
  private request(method: string, params: unknown): RpcAnswer<AgentEvent> | undefined {
    if (method !== "session/request_permission") return undefined;
    const p = PermissionRequest.safeParse(params);
    const options = p.success ? p.data.options : [];
    const allow =
      options.find((o) => o.kind === "allow_once") ??
      options.find((o) => o.kind === "allow_always");
    return {
      result: {
        outcome: allow
          ? { outcome: "selected", optionId: allow.optionId }
          : { outcome: "cancelled" },
      },
    };
  }

  private notification(method: string, params: unknown): AgentEvent[] {
    if (method !== "session/update" || !this.open) return [];
    const u = Update.safeParse(params);
    if (!u.success) return [];
    const events: AgentEvent[] = [];
    if (!this.sessionId) {
      this.sessionId = u.data.sessionId;
      events.push({ kind: "session", sessionId: u.data.sessionId.slice(0, 200) });
      this.prompt([]);
    }
    if (u.data.sessionId !== this.sessionId) return [];
    return [...events, ...this.updated(u.data.update)];
  }

  private updated(update: z.infer<typeof Update>["update"]): AgentEvent[] {
    switch (update.sessionUpdate) {
      case "agent_message_chunk": {
        const c = TextChunk.safeParse(update);
        return c.success ? this.chunk(c.data.content.text) : [];
      }
      case "tool_call": {
        const t = ToolCall.safeParse(update);
        return t.success ? [...this.flush(), ...this.settle(), ...this.tools.started(t.data)] : [];
      }
      case "tool_call_update": {
        const t = ToolCall.safeParse(update);
        return t.success ? this.tools.updated(t.data) : [];
      }
      default:
        return [];
    }
  }

  private chunk(text: string): AgentEvent[] {
    const notice = this.text ? null : NOTICE.exec(text);
    if (!notice) {
      this.text += text;
      return this.settle();
    }
    const [, level, message = ""] = notice;
    const events = [...this.settle()];
    if (level === "Error") this.failure = message;
    else if (level === "Warning")
      events.push({ kind: "error", message: clip(message), fatal: false });
    return events;
  }

  /** The agent's text so far as one message. */
  private flush(): AgentEvent[] {
    const text = this.text;
    this.text = "";
    return text.trim() ? [{ kind: "message", text: clip(text) }] : [];
  }

  /** The agent went on after an `Error:` notice: it was not the turn's end. */
  private settle(): AgentEvent[] {
    const failure = this.failure;
    this.failure = undefined;
    return failure === undefined ? [] : [{ kind: "error", message: clip(failure), fatal: false }];
  }
}
