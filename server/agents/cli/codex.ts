import { z } from "zod";
import { type AgentEvent, clip } from "@/schemas/agent-event";
import type { CliAdapter, LaunchSpec, OutputParser, SessionIo } from "./adapter";
import {
  answerRequest,
  ConfigWarning,
  ErrorParams,
  ItemParams,
  itemEvents,
  ThreadResult,
  type Tokens,
  TokenUsage,
  TurnCompleted,
  TurnResult,
  Warning,
} from "./codex-protocol";
import { JsonRpcLines, requestLine } from "./jsonrpc";

/** The provider the run's endpoint becomes; its key is read from KEY_VAR in the CLI's env. */
const PROVIDER = "hyperion";
const KEY_VAR = "OPENAI_API_KEY";

/** A TOML basic string (the `-c` overrides are parsed as TOML). */
const toml = (s: string) => JSON.stringify(s);

function providerArgs(spec: LaunchSpec): string[] {
  if (!spec.endpoint) return [];
  const fields = [
    `name=${toml("Hyperion")}`,
    `base_url=${toml(spec.endpoint)}`,
    `wire_api="responses"`,
    // Fail fast: the harness decides about retries.
    "request_max_retries=0",
    "stream_max_retries=0",
    ...(spec.apiKey ? [`env_key=${toml(KEY_VAR)}`] : []),
  ];
  return [
    "-c",
    `model_provider=${PROVIDER}`,
    "-c",
    `model_providers.${PROVIDER}={${fields.join(",")}}`,
  ];
}

/** JSON-RPC ids of the requests that open a session; steers count on from STEER_IDS. */
const INITIALIZE = 1;
const THREAD = 2;
const TURN = 3;
const STEER_IDS = 10;

/**
 * Notifications a run does not need: streaming deltas (the completed items carry the whole text
 * and output) and rate-limit news. Fewer bytes against the run's output bound.
 */
const QUIET = [
  "item/agentMessage/delta",
  "item/plan/delta",
  "item/reasoning/summaryTextDelta",
  "item/reasoning/summaryPartAdded",
  "item/reasoning/textDelta",
  "item/commandExecution/outputDelta",
  "item/fileChange/outputDelta",
  "command/exec/outputDelta",
  "process/outputDelta",
  "account/rateLimits/updated",
];

/** The first line on stdin; the parser says the rest as the server answers. */
const initializeLine = requestLine(INITIALIZE, "initialize", {
  clientInfo: { name: "hyperion", title: "Hyperion", version: "0.1.0" },
  capabilities: {
    experimentalApi: false,
    requestAttestation: false,
    optOutNotificationMethods: QUIET,
  },
});

const textInput = (text: string) => ({ type: "text", text, text_elements: [] });

/**
 * Codex CLI as `codex app-server`: JSON-RPC lines on stdio, the provider and everything else as
 * `-c` overrides so the run's CODEX_HOME needs no config file. The parser holds the conversation:
 * `initialize`, `thread/start` (or `thread/resume` of the session named by a resume), one
 * `turn/start` with the prompt, `turn/steer` for each steer while the turn runs, and stdin closed
 * when the turn completes, which ends the process (with exit code 0 even when the turn failed:
 * the turn's error event is the failure). Every run goes this way, resumes included, so every
 * session can be steered; `codex exec` cannot take input once started.
 */
export const codex: CliAdapter = {
  name: "codex",
  npmPackage: "@openai/codex",
  bin: "codex",
  versionArgs: ["--version"],

  launch(spec) {
    const argv = [
      spec.executable,
      "app-server",
      ...providerArgs(spec),
      "-c",
      "analytics.enabled=false",
      "-c",
      "check_for_update_on_startup=false",
      "--disable",
      "plugins",
      "--disable",
      "remote_plugin",
      "--disable",
      "apps",
    ];
    const env: Record<string, string> = { CODEX_HOME: spec.home };
    if (spec.endpoint && spec.apiKey) env[KEY_VAR] = spec.apiKey;
    return { argv, env, stdin: `${initializeLine}\n`, keepStdinOpen: true };
  },

  parser: (io, spec) => new CodexParser(io, spec),
};

/**
 * codex app-server's side of the conversation, read into AgentEvents: the thread's id (the
 * session), items started and completed (`commandExecution`, `agentMessage`, `fileChange`,
 * `mcpToolCall`, …), token usage, and `turn/completed` with the turn's status. Warnings (the
 * advisory "Model metadata … not found") and errors the server will retry are not fatal; an
 * `error` it will not retry, a failed or interrupted turn, and a refused request are.
 *
 * With `io` and `spec` (the harness gives both) it also speaks: it answers the server, starts
 * the thread and the turn, steers, and closes stdin at the turn's end. Without them it only reads.
 */
class CodexParser implements OutputParser {
  private readonly rpc: JsonRpcLines<AgentEvent>;
  private threadId: string | undefined;
  private turnId: string | undefined;
  private lastFatal: string | undefined;
  /** Steers that came before the turn had an id: sent with turn/start, or once the id is known. */
  private waiting: string[] = [];
  private turnRequested = false;
  /** Per turn: tokens before it (the thread's total less its first request) and the latest total. */
  private readonly tokens = new Map<string, { before: Tokens; total: Tokens }>();

  constructor(
    private readonly io?: SessionIo,
    private readonly spec?: LaunchSpec,
  ) {
    this.rpc = new JsonRpcLines(
      io,
      {
        request: (method) => answerRequest(method),
        notification: (method, params) => this.notification(method, params),
        result: (id, result) => (typeof id === "number" ? this.response(id, result) : []),
        error: (id, message) => this.refused(id, message),
      },
      STEER_IDS,
    );
  }

  line(text: string): AgentEvent[] | null {
    return this.rpc.line(text);
  }

  steer(message: string): boolean {
    if (this.rpc.ended || !this.io || !this.spec) return false;
    if (this.threadId && this.turnId) this.sendSteer(message);
    else this.waiting.push(message);
    return true;
  }

  private sendSteer(message: string) {
    if (!this.threadId || !this.turnId) return;
    this.rpc.call("turn/steer", {
      threadId: this.threadId,
      expectedTurnId: this.turnId,
      input: [textInput(message)],
    });
  }

  private fail(message: string): AgentEvent[] {
    this.rpc.end();
    const again = message === this.lastFatal;
    this.lastFatal = message;
    return [
      ...(again ? [] : [{ kind: "error", message: clip(message), fatal: true } as const]),
      { kind: "turn_end", ok: false },
    ];
  }

  private response(id: number, result: unknown): AgentEvent[] {
    const spec = this.spec;
    if (id === INITIALIZE && spec) {
      this.rpc.notify("initialized");
      const params = {
        cwd: spec.workspace,
        // The harness confines the process; codex's own sandbox and prompts would only refuse.
        approvalPolicy: "never",
        sandbox: "danger-full-access",
        ...(spec.model ? { model: spec.model } : {}),
      };
      if (spec.resume)
        this.rpc.request(THREAD, "thread/resume", { threadId: spec.resume.sessionId, ...params });
      else this.rpc.request(THREAD, "thread/start", params);
      return [];
    }
    if (id === THREAD) {
      const r = ThreadResult.safeParse(result);
      if (!r.success) return this.fail("codex app-server answered thread/start without a thread");
      const events = this.session(r.data.thread.id);
      if (spec && !this.rpc.ended) {
        const first = spec.resume ? spec.resume.message : spec.prompt;
        const input = [first, ...this.waiting.splice(0)].map(textInput);
        this.turnRequested = true;
        this.rpc.request(TURN, "turn/start", { threadId: r.data.thread.id, input });
      }
      return events;
    }
    if (id === TURN) {
      const r = TurnResult.safeParse(result);
      if (r.success) this.turnStarted(r.data.turn.id);
      return [];
    }
    return [];
  }

  private turnStarted(turnId: string) {
    if (this.turnId) return;
    this.turnId = turnId;
    for (const message of this.waiting.splice(0)) this.sendSteer(message);
  }

  /** The first thread named is the session's; a sub-agent's threads start later. */
  private session(threadId: string): AgentEvent[] {
    if (this.threadId) return [];
    this.threadId = threadId;
    return [{ kind: "session", sessionId: threadId.slice(0, 200) }];
  }

  /** An error answer to one of our requests. */
  private refused(id: number | string, message: string): AgentEvent[] {
    if (typeof id === "number" && id >= STEER_IDS)
      return [{ kind: "error", message: clip(`a steer was not taken: ${message}`), fatal: false }];
    const what = id === INITIALIZE ? "initialize" : id === THREAD ? "the thread" : "the turn";
    return this.fail(`codex app-server refused ${what}: ${message}`);
  }

  private notification(method: string, params: unknown): AgentEvent[] {
    switch (method) {
      case "thread/started": {
        const t = z
          .looseObject({ thread: z.looseObject({ id: z.string().min(1) }) })
          .safeParse(params);
        return t.success ? this.session(t.data.thread.id) : [];
      }
      case "turn/started": {
        const t = TurnResult.extend({ threadId: z.string() }).safeParse(params);
        if (t.success && this.turnRequested && t.data.threadId === this.threadId)
          this.turnStarted(t.data.turn.id);
        return [];
      }
      case "item/started":
      case "item/completed": {
        const p = ItemParams.safeParse(params);
        return p.success ? itemEvents(p.data.item, method === "item/completed") : [];
      }
      case "thread/tokenUsage/updated": {
        const u = TokenUsage.safeParse(params);
        if (u.success) this.count(u.data);
        return [];
      }
      case "turn/completed": {
        const t = TurnCompleted.safeParse(params);
        // A sub-agent's thread has turns of its own: only this thread's turn ends the session.
        if (!t.success || (this.threadId && t.data.threadId !== this.threadId)) return [];
        return this.turnCompleted(t.data.turn);
      }
      case "error": {
        const e = ErrorParams.safeParse(params);
        if (!e.success) return [];
        const { message: what, additionalDetails } = e.data.error;
        // "Reconnecting... 1/2" and why: a retry under way (only with retries on), not a failure.
        const message = additionalDetails ? `${what} (${additionalDetails})` : what;
        if (e.data.willRetry) return [{ kind: "error", message: clip(message), fatal: false }];
        this.lastFatal = message;
        return [{ kind: "error", message: clip(message), fatal: true }];
      }
      case "warning": {
        const w = Warning.safeParse(params);
        return w.success ? [{ kind: "error", message: clip(w.data.message), fatal: false }] : [];
      }
      case "configWarning": {
        const w = ConfigWarning.safeParse(params);
        if (!w.success) return [];
        const message = [w.data.summary, w.data.details].filter(Boolean).join(": ");
        return [{ kind: "error", message: clip(message), fatal: false }];
      }
      default:
        return [];
    }
  }

  private count(u: z.infer<typeof TokenUsage>) {
    const { total, last } = u.tokenUsage;
    const now = { input: total.inputTokens, output: total.outputTokens };
    const seen = this.tokens.get(u.turnId);
    if (seen) seen.total = now;
    else
      this.tokens.set(u.turnId, {
        before: { input: now.input - last.inputTokens, output: now.output - last.outputTokens },
        total: now,
      });
  }

  private turnCompleted(turn: z.infer<typeof TurnCompleted>["turn"]): AgentEvent[] {
    const t = this.tokens.get(turn.id);
    const usage: AgentEvent[] = t
      ? [
          {
            kind: "usage",
            inputTokens: Math.max(0, t.total.input - t.before.input),
            outputTokens: Math.max(0, t.total.output - t.before.output),
          },
        ]
      : [];
    if (turn.status === "completed") {
      this.rpc.end();
      return [...usage, { kind: "turn_end", ok: true }];
    }
    const message =
      turn.error?.message ??
      (turn.status === "interrupted" ? "the turn was interrupted" : `the turn ${turn.status}`);
    return [...usage, ...this.fail(message)];
  }
}
